/*
 * The one-pass OVA writer of ova.h: ustar headers built here (the format
 * is 512-byte blocks of fixed fields), members written with pwrite() at
 * offsets known in advance, so nothing is copied twice.
 */
#include "ova.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/xmalloc.h"

#define BLOCK 512

struct ova {
	char *path;
	int fd;
	int64_t off;    /* where the next write goes */
	int64_t hdr;    /* the current member's header; -1 when none */
	int64_t size;   /* the current member's bytes so far */
	char name[100]; /* the current member's name */
	int finished;
};

static int64_t
round_up(int64_t n)
{
	return (n + BLOCK - 1) / BLOCK * BLOCK;
}

static int
write_at(struct ova *o, const void *data, size_t len, int64_t off, struct err *err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = pwrite(o->fd, p, len, (off_t)off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_sys(err, errno, "writing %s", o->path);
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* A ustar header for a regular file name of size bytes. */
static void
header(char h[BLOCK], const char *name, int64_t size, time_t mtime)
{
	unsigned sum = 0;

	memset(h, 0, BLOCK);
	memcpy(h, name, strlen(name));
	memcpy(h + 100, "0000644", 7);
	memcpy(h + 108, "0000000", 7);
	memcpy(h + 116, "0000000", 7);
	if (size < 077777777777LL) {
		snprintf(h + 124, 12, "%011llo", (unsigned long long)size);
	} else {
		/* base-256: high bit of the first byte set, big-endian value. */
		h[124] = (char)0x80;
		for (int i = 11; i >= 4; i--) {
			h[124 + i] = (char)(size & 0xff);
			size >>= 8;
		}
	}
	snprintf(h + 136, 12, "%011llo", (unsigned long long)mtime);
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6); /* "ustar\0" */
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "root", 4);
	memcpy(h + 297, "root", 4);
	for (int i = 0; i < BLOCK; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

int
ova_open(const char *path, struct ova **out, struct err *err)
{
	struct ova *o;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);

	*out = NULL;
	if (fd == -1) {
		err_sys(err, errno, "creating %s", path);
		return -1;
	}
	o = xcalloc(1, sizeof *o);
	o->path = xstrdup(path);
	o->fd = fd;
	o->off = OVA_RESERVE;
	o->hdr = -1;
	*out = o;
	return 0;
}

int
ova_member_begin(struct ova *o, const char *name, struct err *err)
{
	if (strlen(name) > 99) {
		err_set(err, "%s: member name longer than 99 bytes: %s", o->path, name);
		return -1;
	}
	snprintf(o->name, sizeof o->name, "%s", name);
	o->hdr = o->off;
	o->off += BLOCK;
	o->size = 0;
	return 0;
}

int
ova_write(struct ova *o, const void *data, size_t len, struct err *err)
{
	if (write_at(o, data, len, o->off, err) == -1)
		return -1;
	o->off += (int64_t)len;
	o->size += (int64_t)len;
	return 0;
}

int
ova_member_end(struct ova *o, struct err *err)
{
	char h[BLOCK], zero[BLOCK] = { 0 };
	int64_t pad = round_up(o->size) - o->size;

	header(h, o->name, o->size, time(NULL));
	if (write_at(o, h, BLOCK, o->hdr, err) == -1 ||
	    (pad > 0 && write_at(o, zero, (size_t)pad, o->off, err) == -1))
		return -1;
	o->off += pad;
	o->hdr = -1;
	return 0;
}

int64_t
ova_ovf_size(size_t ovf_len, size_t mf_len)
{
	int64_t room = (int64_t)OVA_RESERVE - 2 * BLOCK - round_up((int64_t)mf_len);

	return room >= (int64_t)ovf_len ? room : -1;
}

int
ova_finish(struct ova *o, const char *ovf_name, const char *ovf, size_t ovf_len,
           const char *mf_name, const char *mf, size_t mf_len, struct err *err)
{
	char h[BLOCK], zero[2 * BLOCK] = { 0 };
	int64_t room = ova_ovf_size(0, mf_len),
	        mf_pad = round_up((int64_t)mf_len) - (int64_t)mf_len;
	time_t now = time(NULL);

	if (strlen(ovf_name) > 99 || strlen(mf_name) > 99) {
		err_set(err, "%s: member name longer than 99 bytes", o->path);
		return -1;
	}
	if (room < 0 || (int64_t)ovf_len != room) {
		err_set(err,
		        "%s: the descriptor (%zu bytes) and manifest (%zu bytes) do not fill "
		        "the %u bytes reserved for them",
		        o->path, ovf_len, mf_len, OVA_RESERVE);
		return -1;
	}
	header(h, ovf_name, (int64_t)ovf_len, now);
	if (write_at(o, h, BLOCK, 0, err) == -1 || write_at(o, ovf, ovf_len, BLOCK, err) == -1)
		return -1;
	header(h, mf_name, (int64_t)mf_len, now);
	if (write_at(o, h, BLOCK, BLOCK + room, err) == -1 ||
	    write_at(o, mf, mf_len, 2 * BLOCK + room, err) == -1 ||
	    (mf_pad > 0 &&
	     write_at(o, zero, (size_t)mf_pad, 2 * BLOCK + room + (int64_t)mf_len, err) == -1))
		return -1;
	if (write_at(o, zero, sizeof zero, o->off, err) == -1)
		return -1;
	o->off += (int64_t)sizeof zero;
	if (fsync(o->fd) == -1) {
		err_sys(err, errno, "fsync %s", o->path);
		return -1;
	}
	o->finished = 1;
	return 0;
}

void
ova_close(struct ova *o)
{
	if (o == NULL)
		return;
	close(o->fd);
	if (!o->finished)
		unlink(o->path);
	free(o->path);
	free(o);
}

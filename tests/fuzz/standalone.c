/*
 * A main() for fuzz harnesses in builds without libFuzzer: every argument
 * is a file, or a folder whose regular files (sorted by name) are each fed
 * once to LLVMFuzzerTestOneInput(). Prints TAP, so the seed corpus runs as
 * an ordinary test; a harness finding a bug aborts, which fails the test.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/strv.h"
#include "util/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int
standalone_select(const struct dirent *de)
{
	return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

/* Add path, or the regular files directly inside it. */
static int
standalone_collect(const char *path, struct strv *files)
{
	struct dirent **names;
	struct stat st;
	char *p;
	int n;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		strv_push(files, path);
		return 0;
	}
	if ((n = scandir(path, &names, standalone_select, alphasort)) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		p = xasprintf("%s/%s", path, names[i]->d_name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
			strv_push(files, p);
		free(p);
		free(names[i]);
	}
	free(names);
	return 0;
}

/* Read a whole file into an exactly sized allocation (so ASan sees overreads). */
static uint8_t *
standalone_read(const char *path, size_t *size)
{
	uint8_t *data = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || st.st_size < 0)
		goto out;
	data = xmalloc((size_t)st.st_size);
	while (len < (size_t)st.st_size) {
		n = read(fd, data + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	*size = len;
out:
	close(fd);
	return data;
}

int
main(int argc, char **argv)
{
	struct strv files;
	uint8_t *data;
	size_t size;
	int rv = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	strv_init(&files);
	for (int i = 1; i < argc; i++) {
		if (standalone_collect(argv[i], &files) == -1)
			rv = 1;
	}
	printf("1..%zu\n", files.n);
	for (size_t i = 0; i < files.n; i++) {
		if ((data = standalone_read(files.v[i], &size)) == NULL) {
			printf("not ok %zu - %s # cannot read: %s\n", i + 1, files.v[i],
			       strerror(errno));
			rv = 1;
			continue;
		}
		fflush(stdout);
		LLVMFuzzerTestOneInput(data, size);
		free(data);
		printf("ok %zu - %s\n", i + 1, files.v[i]);
	}
	strv_free(&files);
	return rv;
}

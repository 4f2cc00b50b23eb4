/*
 * The telnet transport (see telnet.h). Received bytes go through a small
 * state machine that takes the commands out (answering negotiations) and
 * hands the data on; a command may span two reads. We answer each option
 * at most once per direction, so a server that repeats itself cannot make
 * us loop.
 */
#include "telnet.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/xmalloc.h"

#define TELNET_IAC 255
#define TELNET_DONT 254
#define TELNET_DO 253
#define TELNET_WONT 252
#define TELNET_WILL 251
#define TELNET_SB 250
#define TELNET_SE 240
#define TELNET_OPT_ECHO 1
#define TELNET_OPT_SGA 3
#define TELNET_DEFAULT_TIMEOUT 30

enum tn_state { TN_DATA, TN_IAC, TN_OPT, TN_SB, TN_SB_IAC };

struct telnet {
	int fd;
	enum tn_state st;
	unsigned char verb;
	unsigned char answered[2][32]; /* [0]: WILL/WONT seen, [1]: DO/DONT; bit per option */
};

static int
tn_write(int fd, const unsigned char *p, size_t len, struct err *err)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };

				poll(&pfd, 1, 1000);
				continue;
			}
			err_sys(err, errno, "telnet: sending");
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Answer verb opt once: accept WILL ECHO/SGA, refuse the rest. */
static int
tn_negotiate(struct telnet *tn, unsigned char verb, unsigned char opt, struct err *err)
{
	int side = verb == TELNET_WILL || verb == TELNET_WONT ? 0 : 1;
	unsigned char bit = (unsigned char)(1u << (opt % 8)), reply[3] = { TELNET_IAC, 0, opt };

	if (tn->answered[side][opt / 8] & bit)
		return 0;
	tn->answered[side][opt / 8] |= bit;
	if (verb == TELNET_WILL)
		reply[1] =
		    opt == TELNET_OPT_ECHO || opt == TELNET_OPT_SGA ? TELNET_DO : TELNET_DONT;
	else if (verb == TELNET_DO)
		reply[1] = TELNET_WONT;
	else
		return 0; /* WONT, DONT: nothing to answer */
	return tn_write(tn->fd, reply, sizeof reply, err);
}

/* Take the commands out of raw (in place); the number of data bytes left. */
static long
tn_filter(struct telnet *tn, char *raw, size_t n, struct err *err)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)raw[i];

		switch (tn->st) {
		case TN_DATA:
			if (c == TELNET_IAC)
				tn->st = TN_IAC;
			else
				raw[o++] = (char)c;
			break;
		case TN_IAC:
			if (c == TELNET_IAC) {
				raw[o++] = (char)c;
				tn->st = TN_DATA;
			} else if (c >= TELNET_WILL && c <= TELNET_DONT) {
				tn->verb = c;
				tn->st = TN_OPT;
			} else if (c == TELNET_SB)
				tn->st = TN_SB;
			else
				tn->st = TN_DATA; /* NOP, GA, ...: nothing */
			break;
		case TN_OPT:
			tn->st = TN_DATA;
			if (tn_negotiate(tn, tn->verb, c, err) == -1)
				return -1;
			break;
		case TN_SB:
			if (c == TELNET_IAC)
				tn->st = TN_SB_IAC;
			break;
		case TN_SB_IAC:
			tn->st = c == TELNET_SE ? TN_DATA : TN_SB;
			break;
		}
	}
	return (long)o;
}

static long
tn_recv(void *t, char *buf, size_t len, int timeout_ms, struct err *err)
{
	struct telnet *tn = t;
	struct pollfd pfd = { .fd = tn->fd, .events = POLLIN };
	ssize_t n;
	int r;

	r = poll(&pfd, 1, timeout_ms);
	if (r == -1) {
		if (errno == EINTR)
			return 0;
		err_sys(err, errno, "telnet: waiting");
		return -1;
	}
	if (r == 0)
		return 0;
	n = recv(tn->fd, buf, len, 0);
	if (n == 0)
		return -2;
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		if (errno == ECONNRESET)
			return -2;
		err_sys(err, errno, "telnet: receiving");
		return -1;
	}
	return tn_filter(tn, buf, (size_t)n, err); /* 0 when all were commands */
}

static int
tn_send(void *t, const char *buf, size_t len, struct err *err)
{
	struct telnet *tn = t;
	const unsigned char *p = (const unsigned char *)buf, *start = p, *end = p + len;
	static const unsigned char iac = TELNET_IAC;

	/* Each 0xFF goes twice: the run up to and including it, then one more. */
	for (; p < end; p++) {
		if (*p != TELNET_IAC)
			continue;
		if (tn_write(tn->fd, start, (size_t)(p + 1 - start), err) == -1 ||
		    tn_write(tn->fd, &iac, 1, err) == -1)
			return -1;
		start = p + 1;
	}
	return tn_write(tn->fd, start, (size_t)(end - start), err);
}

static void
tn_close(void *t)
{
	struct telnet *tn = t;

	close(tn->fd);
	free(tn);
}

/* Connect fd to ai within timeout_ms. 0 or -1 with errno. */
static int
connect_within(int fd, const struct addrinfo *ai, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t sl = sizeof(int);
	int soerr = 0, r;

	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r == -1 && errno == EINTR);
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (r == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

int
telnet_connect(const char *host, int port, int timeout_sec, struct dialog_transport *tr,
               struct err *err)
{
	struct addrinfo hints, *res = NULL;
	struct telnet *tn;
	char service[16];
	int fd = -1, r, saved = 0, one = 1;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof service, "%d", port);
	if ((r = getaddrinfo(host, service, &hints, &res)) != 0) {
		err_set(err, "telnet %s:%d: %s", host, port, gai_strerror(r));
		return -1;
	}
	if (timeout_sec <= 0)
		timeout_sec = TELNET_DEFAULT_TIMEOUT;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (connect_within(fd, ai, timeout_sec * 1000) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		err_sys(err, saved, "telnet %s:%d: cannot connect", host, port);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	tn = xcalloc(1, sizeof *tn);
	tn->fd = fd;
	tn->st = TN_DATA;
	tr->recv = tn_recv;
	tr->send = tn_send;
	tr->close = tn_close;
	tr->t = tn;
	return 0;
}

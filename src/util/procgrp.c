/* The processes of one process group, read from /proc (procgrp.h). */
#include "util/procgrp.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
procgrp_each(pid_t pgid, int (*fn)(pid_t pid, char state, const char *comm, void *ctx), void *ctx)
{
	struct dirent *de;
	DIR *d = opendir("/proc");
	int rc = 0;

	if (d == NULL)
		return -1;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char path[64], stat[512], state, *open_paren, *close_paren, *end;
		long pid, pgrp;
		ssize_t n;
		int fd;

		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		n = read(fd, stat, sizeof stat - 1);
		close(fd);
		if (n <= 0)
			continue;
		stat[n] = '\0';
		/* "PID (COMM) STATE PPID PGRP ...": COMM may hold ')' and blanks. */
		if ((open_paren = strchr(stat, '(')) == NULL ||
		    (close_paren = strrchr(stat, ')')) == NULL || close_paren < open_paren ||
		    sscanf(close_paren + 1, " %c %*d %ld", &state, &pgrp) != 2 ||
		    pgrp != (long)pgid)
			continue;
		*close_paren = '\0';
		rc = fn((pid_t)pid, state, open_paren + 1, ctx);
	}
	closedir(d);
	return rc;
}

/*
 * dlopen() of the first soname that loads and dlsym() of a table of
 * symbols (see dynlib.h).
 */
#include "util/dynlib.h"

#include <dlfcn.h>

#include "util/buf.h"
#include "util/xmalloc.h"

int
dynlib_lazy_load(struct dynlib_lazy *l, struct err *err)
{
	int state;

	pthread_mutex_lock(&l->lock);
	if (l->state == 0) {
		struct err failure;

		err_clear(&failure);
		if (dynlib_open(l->label, l->package, l->names, l->syms, &failure) == 0 &&
		    (l->after == NULL || l->after(&failure) == 0)) {
			l->state = 1;
		} else {
			l->state = -1;
			l->failure = xstrdup(failure.msg);
		}
	}
	state = l->state;
	pthread_mutex_unlock(&l->lock);
	if (state == 1)
		return 0;
	err_set(err, "%s", l->failure);
	return -1;
}

int
dynlib_open(const char *label, const char *package, const char *const *names,
            const struct dynsym *syms, struct err *err)
{
	void *lib = NULL;

	for (const char *const *n = names; *n != NULL && lib == NULL; n++)
		lib = dlopen(*n, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		struct buf tried;

		buf_init(&tried, 512);
		for (const char *const *n = names; *n != NULL; n++)
			buf_printf(&tried, "%s%s", n == names ? "" : ", ", *n);
		err_set(err, "cannot load %s (tried %s): install %s", label, buf_str(&tried),
		        package);
		buf_free(&tried);
		return -1;
	}
	for (const struct dynsym *s = syms; s->name != NULL; s++) {
		void *p = dlsym(lib, s->name);

		if (p == NULL) {
			err_set(err, "%s lacks %s: install a newer %s", label, s->name, package);
			return -1; /* the library stays mapped: harmless, and rare */
		}
		/* POSIX guarantees object and function pointers convert both ways. */
		*(void **)s->slot = p;
	}
	return 0;
}

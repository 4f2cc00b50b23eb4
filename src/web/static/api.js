/*
 * The REST client: JSON in and out, the session's CSRF token on every
 * state change, and a trip to the login page when the session is gone
 * (the current view is remembered and reopened after logging in).
 */

let session = null;

export class ApiError extends Error {
	constructor(status, message, field) {
		super(message);
		this.status = status;
		this.field = field || null;
	}
}

function toLogin() {
	if (location.hash && location.hash !== '#/') sessionStorage.setItem('tb-return', location.hash);
	location.assign('/login?next=/');
}

/* Fetch path (JSON). opts.method, opts.body (an object, sent as JSON). */
export async function api(path, opts = {}) {
	const method = opts.method || 'GET';
	const headers = { Accept: opts.text ? 'text/plain, application/json' : 'application/json' };
	let body;
	if (opts.body !== undefined) {
		headers['Content-Type'] = 'application/json';
		body = JSON.stringify(opts.body);
	}
	if (method !== 'GET' && method !== 'HEAD') {
		const s = await getSession();
		if (s && s.csrf) headers['X-CSRF-Token'] = s.csrf;
	}
	let res;
	try {
		res = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
	} catch (e) {
		throw new ApiError(0, `server unreachable (${e.message})`);
	}
	if (res.status === 401) {
		toLogin();
		throw new ApiError(401, 'not logged in');
	}
	let data = null;
	const ct = res.headers.get('Content-Type') || '';
	if (opts.text && res.ok && !ct.includes('json')) return res.text();
	if (ct.includes('json')) {
		try {
			data = await res.json();
		} catch {
			data = null;
		}
	}
	if (!res.ok) {
		const msg = data && data.error ? data.error : `${res.status} ${res.statusText}`;
		throw new ApiError(res.status, msg, data && data.field);
	}
	return data;
}

/* The current user {user, role, csrf}; fetched once. */
export async function getSession(refresh = false) {
	if (!session || refresh) {
		const res = await fetch('/api/v1/session', { credentials: 'same-origin', cache: 'no-store' });
		if (res.status === 401) {
			toLogin();
			throw new ApiError(401, 'not logged in');
		}
		if (!res.ok) throw new ApiError(res.status, `session: ${res.status} ${res.statusText}`);
		session = await res.json();
	}
	return session;
}

export function isAdmin() {
	return !!session && session.role === 'admin';
}

export async function logout() {
	const s = await getSession();
	try {
		await fetch('/logout', {
			method: 'POST',
			headers: { 'X-CSRF-Token': s.csrf, 'Content-Type': 'application/x-www-form-urlencoded' },
			body: new URLSearchParams({ csrf_token: s.csrf }),
			credentials: 'same-origin',
			redirect: 'manual',
		});
	} finally {
		session = null;
		sessionStorage.removeItem('tb-return');
		location.assign('/login');
	}
}

const TERMINAL = new Set(['done', 'failed', 'cancelled']);

export function runFinished(run) {
	return TERMINAL.has(run.state);
}

/*
 * Start a run ({action, sections, exportdir?}) and report its state to
 * onUpdate(run) until it ends; resolves with the last run object.
 */
export async function startRun(request, onUpdate) {
	const r = await api('/api/v1/runs', { method: 'POST', body: request });
	const first = { id: r.id, action: request.action, sections: request.sections, state: 'queued' };
	onUpdate(first);
	return followRun(r.id, onUpdate);
}

/* Poll /api/v1/runs/ID (every second, then every 2 s) until it ends. */
export async function followRun(id, onUpdate) {
	let delay = 500;
	for (;;) {
		await new Promise((ok) => setTimeout(ok, delay));
		delay = Math.min(delay + 250, 2000);
		let run;
		try {
			run = await api(`/api/v1/runs/${encodeURIComponent(id)}`);
		} catch (e) {
			if (e.status === 404 || e.status === 401) throw e;
			continue; /* transient: keep polling */
		}
		onUpdate(run);
		if (runFinished(run)) return run;
	}
}

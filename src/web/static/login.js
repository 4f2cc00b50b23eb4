/*
 * The login page: copies ?next= into the form and explains why the page
 * is shown. The reason comes from the server as <body data-state> (the
 * server replaces the {{login_state}} placeholder with "invalid", "rate",
 * "nousers" or nothing), else from the HTTP status of this page (401
 * wrong credentials, 429 rate limit) or ?error=.
 */
const params = new URLSearchParams(location.search);
const next = params.get('next');
if (next && next.startsWith('/') && !next.startsWith('//')) document.getElementById('next').value = next;

const MESSAGES = {
	invalid: ['error', 'Wrong user name or password.'],
	rate: ['error', 'Too many failed attempts. Wait a few minutes before trying again.'],
	nousers: ['info', 'No users yet: create one on the server with: tisbackup user add NAME --role admin'],
	logout: ['info', 'You are logged out.'],
	expired: ['info', 'Your session has expired: please log in again.'],
};

let state = document.body.dataset.state || '';
if (!MESSAGES[state]) {
	state = '';
	const nav = performance.getEntriesByType('navigation')[0];
	const code = nav && nav.responseStatus;
	if (code === 401) state = 'invalid';
	else if (code === 429) state = 'rate';
	else if (MESSAGES[params.get('error')]) state = params.get('error');
}
if (state) {
	const box = document.getElementById('login-message');
	const [kind, text] = MESSAGES[state];
	box.className = `notice notice-${kind}`;
	if (state === 'nousers') {
		box.append('No users yet: create one on the server with ');
		const code = document.createElement('code');
		code.textContent = 'tisbackup user add NAME --role admin';
		box.append(code);
	} else {
		box.textContent = text;
	}
	box.hidden = false;
	if (state === 'invalid') document.getElementById('password').focus();
}

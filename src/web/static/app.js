/*
 * The single-page UI behind `/`: a hash router (#/, #/job/NAME,
 * #/backups, #/export, #/runs) so the server only serves `/`, the header (user,
 * role, logout) and the views, each a module exporting
 * render(main, ...args) -> cleanup function.
 */
import { getSession, logout } from './api.js';
import { h, replace } from './dom.js';
import { loadActive } from './runs.js';
import * as dashboard from './dashboard.js';
import * as job from './job.js';
import * as backups from './backups.js';
import * as exportView from './export.js';
import * as runsView from './runsview.js';

const main = document.getElementById('main');
let cleanup = null;

const routes = [
	{ re: /^#?\/?$/, view: dashboard, nav: 'dashboard', title: 'Jobs' },
	{ re: /^#\/job\/(.+)$/, view: job, nav: 'dashboard', title: 'Job' },
	{ re: /^#\/backups$/, view: backups, nav: 'backups', title: 'Last backups' },
	{ re: /^#\/export$/, view: exportView, nav: 'export', title: 'Export' },
	{ re: /^#\/runs$/, view: runsView, nav: 'runs', title: 'Runs' },
];

async function route() {
	if (cleanup) cleanup();
	cleanup = null;
	const hash = location.hash || '#/';
	const r = routes.find((x) => x.re.test(hash));
	for (const a of document.querySelectorAll('nav.main-nav a')) {
		if (r && a.dataset.nav === r.nav) a.setAttribute('aria-current', 'page');
		else a.removeAttribute('aria-current');
	}
	if (!r) {
		replace(main, h('div', { class: 'panel empty' }, h('h1', { text: 'Not found' }), h('p', {}, h('a', { href: '#/', text: 'Back to the jobs' }))));
		return;
	}
	const m = r.re.exec(hash);
	const args = m.slice(1).map((x) => decodeURIComponent(x));
	document.title = `${args[0] || r.title} — TISBackup`;
	replace(main, h('p', { class: 'loading', text: 'Loading…' }));
	try {
		cleanup = (await r.view.render(main, ...args)) || null;
	} catch (e) {
		if (e.status === 401) return;
		replace(
			main,
			h('div', { class: 'panel error', role: 'alert' }, h('h1', { text: e.status === 404 ? 'Not found' : 'Error' }), h('p', { text: e.message })),
		);
	}
	main.focus({ preventScroll: true });
}

async function start() {
	const s = await getSession();
	document.getElementById('user-name').textContent = s.user;
	document.getElementById('user-role').textContent = s.role;
	document.body.classList.toggle('is-admin', s.role === 'admin');
	document.getElementById('logout').addEventListener('click', () => logout());
	const back = sessionStorage.getItem('tb-return');
	if (back) {
		sessionStorage.removeItem('tb-return');
		if (!location.hash || location.hash === '#/') history.replaceState(null, '', back);
	}
	window.addEventListener('hashchange', route);
	await route();
	loadActive();
}

start().catch((e) => {
	if (e.status !== 401) replace(main, h('div', { class: 'panel error', role: 'alert' }, h('p', { text: e.message })));
});

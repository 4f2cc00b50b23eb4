/*
 * The snapshot browser panel of the job page (docs/web-ui.md): pick a
 * backup, walk its folders (GET /api/v1/jobs/NAME/browse), search names
 * (GET .../search), download a file (GET .../file, plain links: the
 * browser streams them) or a folder as tar / tar.gz (GET .../tar).
 * Symlinks are shown with their target and are not links. Names are set
 * with textContent only. A 403 (a viewer without [web] viewers_download)
 * shows why instead of the browser.
 */
import { api } from './api.js';
import { h, replace } from './dom.js';
import * as fmt from './fmt.js';

const STAMP = /(\d{8}-\d{2}h\d{2}m\d{2})/;

function url(name, what, args) {
	const q = new URLSearchParams(args);
	return `/api/v1/jobs/${encodeURIComponent(name)}/${what}?${q.toString()}`;
}

/* The stamps of the backups still on disk, newest first, from the retention answer. */
function stamps(ret) {
	const out = [];
	for (const it of (ret && ret.items) || []) {
		const m = STAMP.exec(it.location || '');
		if (m && !it.partial && !out.includes(m[1])) out.push(m[1]);
	}
	return out.sort().reverse();
}

function entryRow(name, at, e, path, open) {
	const full = path ? `${path}/${e.name}` : e.name;
	let label;
	if (e.type === 'dir') label = h('button', { type: 'button', class: 'link', text: `${e.name}/`, onclick: () => open(full) });
	else if (e.type === 'file') label = h('a', { href: url(name, 'file', { at, path: full }), download: '', text: e.name });
	else if (e.type === 'symlink') label = h('span', { class: 'mono', text: `${e.name} → ${e.target}` });
	else label = h('span', { text: e.name });
	return h(
		'tr',
		{},
		h('td', { 'data-label': 'Name' }, label),
		h('td', { 'data-label': 'Type', text: e.type }),
		h('td', { 'data-label': 'Size', class: 'num', text: e.type === 'file' ? fmt.bytes(e.size) : '' }),
		h('td', { 'data-label': 'Modified', text: fmt.date(e.mtime) }),
	);
}

function table(rows) {
	return h(
		'div',
		{ class: 'table-wrap' },
		h('table', { class: 'browse' }, h('thead', {}, h('tr', {}, ['Name', 'Type', 'Size', 'Modified'].map((c) => h('th', { scope: 'col', text: c })))), h('tbody', {}, rows)),
	);
}

export function browsePanel(name, ret) {
	const list = stamps(ret);
	const body = h('div', { class: 'browse-body' });
	const panel = h('section', { class: 'panel', id: 'browse' }, h('h2', { text: 'Browse and download' }));
	if (list.length === 0) {
		panel.append(h('p', { class: 'muted', text: 'No backup to browse.' }));
		return panel;
	}
	const pick = h('select', { id: 'browse-at', 'aria-label': 'Backup' }, list.map((s) => h('option', { value: s, text: s })));
	const q = h('input', { type: 'search', id: 'browse-q', placeholder: 'Search names', 'aria-label': 'Search names in this backup' });
	let path = '';

	function fail(e) {
		const text = e.status === 403 ? 'Browsing and downloading backups is for admins here ([web] viewers_download = no).' : `Cannot browse: ${e.message}`;
		replace(body, h('p', { class: 'error', role: 'alert', text }));
	}

	async function open(p) {
		path = p;
		const at = pick.value;
		try {
			const d = await api(url(name, 'browse', { at, path }));
			const parts = path ? path.split('/') : [];
			const crumbs = [h('button', { type: 'button', class: 'link', text: at, onclick: () => open('') })];
			parts.forEach((c, i) => crumbs.push(' / ', h('button', { type: 'button', class: 'link', text: c, onclick: () => open(parts.slice(0, i + 1).join('/')) })));
			replace(
				body,
				h('p', { class: 'crumbs browse-path' }, crumbs),
				h(
					'p',
					{ class: 'actions' },
					h('a', { class: 'button', href: url(name, 'tar', { at, path }), download: '', text: 'Download folder (.tar)' }),
					' ',
					h('a', { class: 'button', href: url(name, 'tar', { at, path, format: 'tar.gz' }), download: '', text: 'Download folder (.tar.gz)' }),
				),
				d.entries.length === 0 ? h('p', { class: 'muted', text: 'Empty folder.' }) : table(d.entries.map((e) => entryRow(name, at, e, path, open))),
				d.truncated ? h('p', { class: 'muted', text: 'Only the first entries are shown.' }) : null,
			);
		} catch (e) {
			fail(e);
		}
	}

	async function search(ev) {
		ev.preventDefault();
		if (!q.value) return open(path);
		const at = pick.value;
		try {
			const d = await api(url(name, 'search', { at, q: q.value }));
			/* Results carry their path from the snapshot's root as their name. */
			const rows = d.results.map((e) => entryRow(name, at, e, '', open));
			replace(
				body,
				h('p', { class: 'muted', text: `${d.results.length} match${d.results.length === 1 ? '' : 'es'} for “${q.value}”${d.truncated ? ' (first ones only)' : ''}` }),
				d.results.length ? table(rows) : null,
			);
		} catch (e) {
			fail(e);
		}
	}

	pick.addEventListener('change', () => open(''));
	panel.append(h('form', { class: 'browse-tools', onsubmit: search }, pick, ' ', q, ' ', h('button', { type: 'submit', text: 'Search' })), body);
	open('');
	return panel;
}

/*
 * The snapshot browser panel of the job page (docs/web-ui.md): pick a
 * backup, walk its folders (GET /api/v1/jobs/NAME/browse), search names
 * (GET .../search), download a file (GET .../file, plain links: the
 * browser streams them) or a folder as tar / tar.gz (GET .../tar).
 * Symlinks are shown with their target and are not links. Names are set
 * with textContent only. A 403 (a viewer without [web] viewers_download)
 * shows why instead of the browser.
 *
 * For admins, "Restore to host…" on the current folder and on each entry
 * opens a small form that queues a restore (POST /api/v1/runs, action
 * restore, docs/restore.md): back in place on the job's server, to
 * another HOST:/DIR, or to a folder of the backup server; a dry run by
 * default; a real in-place restore needs the job's name typed as
 * confirmation. For a job of database dumps the form asks instead for
 * the database (one of the backup's, listed by GET .../databases), the name to load it
 * as and the server (empty: the job's own; else HOST or USER@HOST, over
 * the job's ssh key and host-key policy). The queued run is linked in
 * the Runs view.
 */
import { api, isAdmin } from './api.js';
import { h, replace } from './dom.js';
import * as fmt from './fmt.js';

const STAMP = /(\d{8}-\d{2}h\d{2}m\d{2})/;

function url(name, what, args) {
	const q = new URLSearchParams(args);
	return `/api/v1/jobs/${encodeURIComponent(name)}/${what}?${q.toString()}`;
}

/*
 * The stamps of the backups still on disk, newest first, from the
 * retention answer; with okOnly, of the good ones only.
 */
export function stamps(ret, okOnly = false) {
	const out = [];
	for (const it of (ret && ret.items) || []) {
		const m = !okOnly || it.status === 'OK' ? STAMP.exec(it.location || '') : null;
		if (m && !it.partial && !out.includes(m[1])) out.push(m[1]);
	}
	return out.sort().reverse();
}

/*
 * The restore form of a database dump (db, to_db, to_server), shown in
 * host; a dry run by default. The databases offered are the backup's own
 * (GET .../databases: names decoded from the snapshot, as restore --db
 * takes them; a mysql dump file name may be percent-encoded), the one of
 * the dump file clicked preselected. The API checks every field.
 */
function restoreDbForm(name, at, what, host) {
	const msg = h('p', { class: 'form-error', role: 'alert', hidden: true });
	const done = h('p', { class: 'restore-done', role: 'status', hidden: true });
	const field = (id, label, placeholder, value) => {
		const input = h('input', { type: 'text', id, placeholder, value: value || '', autocomplete: 'off', 'aria-label': label });
		return [input, h('p', { class: 'indent' }, h('label', { for: id, text: `${label}: ` }), input)];
	};
	const db = h('select', { id: 'restore-db', 'aria-label': 'Database' }, h('option', { value: '', text: "the job's db_name" }));
	const dbRow = h('p', { class: 'indent' }, h('label', { for: 'restore-db', text: 'Database: ' }), db);
	const clicked = (what || '').split('/').pop();
	api(url(name, 'databases', { at }))
		.then((d) => {
			for (const it of d.databases) db.append(h('option', { value: it.name, text: it.name, selected: it.file === clicked, dataset: { file: it.file } }));
			db.dataset.loaded = String(d.databases.length);
		})
		.catch((e) => {
			msg.textContent = `Cannot list the databases of ${at}: ${e.message}`;
			msg.hidden = false;
		});
	const [toDb, toDbRow] = field('restore-to-db', 'Load as', 'the same name');
	const [toServer, toServerRow] = field('restore-to-server', 'On server', "the job's own server (or host, user@host)");
	const dry = h('input', { type: 'checkbox', id: 'restore-dry-run', checked: true });
	const repl = h('input', { type: 'checkbox', id: 'restore-replace' });
	const form = h(
		'form',
		{ class: 'restore-form', id: 'restore-form' },
		h('fieldset', {}, h('legend', { text: `Restore a database of ${at}` }), dbRow, toDbRow, toServerRow, h('label', { class: 'check' }, dry, 'Dry run: say what would be done, change nothing'), h('label', { class: 'check' }, repl, 'Replace the database if it already exists there')),
		msg,
		h('p', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'restore-submit', text: 'Queue restore' }), ' ', h('button', { type: 'button', class: 'btn', text: 'Close', onclick: () => form.remove() })),
		done,
	);
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		msg.hidden = true;
		const options = { at, dry_run: dry.checked };
		if (db.value) options.db = db.value; /* exact: a database name may hold blanks */
		if (toDb.value.trim()) options.to_db = toDb.value.trim();
		if (toServer.value.trim()) options.to_server = toServer.value.trim();
		if (repl.checked) options.replace = true;
		try {
			const r = await api('/api/v1/runs', { method: 'POST', body: { action: 'restore', sections: [name], options } });
			replace(done, `${options.dry_run ? 'Dry run' : 'Restore'} queued: run `, h('code', { text: String(r.id) }), r.existing ? ' (the same request was already queued)' : '', ' — follow it in ', h('a', { href: '#/runs', id: 'restore-run-link', text: 'Runs' }), '.');
			done.hidden = false;
		} catch (e) {
			msg.textContent = e.message; /* names the field: "options.to_server: ..." */
			msg.hidden = false;
		}
	});
	host.querySelector('#restore-form')?.remove();
	host.prepend(form);
	db.focus();
}

/*
 * The restore form for what (a path inside the backup at, '' = all of it),
 * shown in host (an element of the panel); the API checks every field.
 */
function restoreForm(name, at, what, host) {
	const msg = h('p', { class: 'form-error', role: 'alert', hidden: true });
	const done = h('p', { class: 'restore-done', role: 'status', hidden: true });
	const radio = (value, label, checked) =>
		h('label', { class: 'check' }, h('input', { type: 'radio', name: 'restore-target', value, checked }), label);
	const hostDir = h('input', { type: 'text', id: 'restore-host-dir', placeholder: 'host:/srv/restored', 'aria-label': 'Host and folder (host:/dir)' });
	const localDir = h('input', { type: 'text', id: 'restore-local-dir', placeholder: '/srv/restored', 'aria-label': 'Folder on the backup server' });
	const dry = h('input', { type: 'checkbox', id: 'restore-dry-run', checked: true });
	const repl = h('input', { type: 'checkbox', id: 'restore-replace' });
	const typed = h('input', { type: 'text', id: 'restore-confirm', autocomplete: 'off', 'aria-label': `Type ${name} to confirm` });
	const confirmRow = h('p', { class: 'indent restore-confirm', hidden: true }, `Overwrites files on the job's server. Type “${name}” to confirm: `, typed);
	const form = h(
		'form',
		{ class: 'restore-form', id: 'restore-form' },
		h(
			'fieldset',
			{},
			h('legend', { text: `Restore ${what ? `“${what}”` : 'the whole backup'} of ${at}` }),
			radio('in_place', "Back to the job's server, same place (in place)", true),
			radio('host', 'To another host: ', false),
			h('p', { class: 'indent' }, hostDir),
			radio('local', 'To a folder of the backup server: ', false),
			h('p', { class: 'indent' }, localDir),
			h('label', { class: 'check' }, dry, 'Dry run: list what would change, change nothing'),
			h('label', { class: 'check' }, repl, 'Replace files that already exist at the target'),
			confirmRow,
		),
		msg,
		h('p', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'restore-submit', text: 'Queue restore' }), ' ', h('button', { type: 'button', class: 'btn', text: 'Close', onclick: () => form.remove() })),
		done,
	);
	const target = () => form.querySelector('input[name="restore-target"]:checked').value;
	const sync = () => {
		confirmRow.hidden = !(target() === 'in_place' && !dry.checked);
	};
	form.addEventListener('change', sync);
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		msg.hidden = true;
		const options = { at, dry_run: dry.checked };
		if (what) options.paths = [what];
		if (repl.checked) options.replace = true;
		const t = target();
		if (t === 'in_place') {
			options.in_place = true;
			if (!dry.checked) {
				if (typed.value !== name) {
					msg.textContent = `Type the job's name (${name}) to confirm an in-place restore, or keep the dry run.`;
					msg.hidden = false;
					typed.focus();
					return;
				}
				options.confirm = true;
			}
		} else options.to = (t === 'host' ? hostDir : localDir).value.trim();
		try {
			const r = await api('/api/v1/runs', { method: 'POST', body: { action: 'restore', sections: [name], options } });
			replace(
				done,
				`${options.dry_run ? 'Dry run' : 'Restore'} queued: run `,
				h('code', { text: String(r.id) }),
				r.existing ? ' (the same request was already queued)' : '',
				' — follow it in ',
				h('a', { href: '#/runs', id: 'restore-run-link', text: 'Runs' }),
				'.',
			);
			done.hidden = false;
		} catch (e) {
			msg.textContent = e.message; /* names the field: "options.to: ..." */
			msg.hidden = false;
		}
	});
	sync();
	host.querySelector('#restore-form')?.remove();
	host.prepend(form);
	form.querySelector('input').focus();
}

function entryRow(name, at, e, path, open, restoreHere) {
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
		restoreHere ? h('td', { class: 'restore-cell' }, h('button', { type: 'button', class: 'link', 'aria-label': `Restore ${full} to host`, text: 'Restore…', onclick: () => restoreHere(full) })) : null,
	);
}

function table(rows, admin) {
	const cols = admin ? ['Name', 'Type', 'Size', 'Modified', ''] : ['Name', 'Type', 'Size', 'Modified'];
	return h(
		'div',
		{ class: 'table-wrap' },
		h('table', { class: 'browse' }, h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: c })))), h('tbody', {}, rows)),
	);
}

export function browsePanel(name, ret, dbDump) {
	const list = stamps(ret);
	const body = h('div', { class: 'browse-body' });
	const admin = isAdmin();
	const restoreHost = h('div', { class: 'restore-host' });
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
			restoreHost.replaceChildren();
			const d = await api(url(name, 'browse', { at, path }));
			const here = admin ? (p) => (dbDump ? restoreDbForm : restoreForm)(name, at, p, restoreHost) : null;
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
					admin ? ' ' : null,
					admin ? h('button', { type: 'button', class: 'btn', id: 'restore-open', text: 'Restore to host…', onclick: () => here(path) }) : null,
				),
				restoreHost,
				d.entries.length === 0 ? h('p', { class: 'muted', text: 'Empty folder.' }) : table(d.entries.map((e) => entryRow(name, at, e, path, open, here)), admin),
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
			const here = admin ? (p) => (dbDump ? restoreDbForm : restoreForm)(name, at, p, restoreHost) : null;
			const rows = d.results.map((e) => entryRow(name, at, e, '', open, here));
			replace(
				body,
				restoreHost,
				h('p', { class: 'muted', text: `${d.results.length} match${d.results.length === 1 ? '' : 'es'} for “${q.value}”${d.truncated ? ' (first ones only)' : ''}` }),
				d.results.length ? table(rows, admin) : null,
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

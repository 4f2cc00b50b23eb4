/*
 * Last backups: the catalog rows from /api/v1/backups with server-side
 * filters (job, status, type, dates) and paging, sorting by any column
 * within the page, and the totals of duration and written bytes of the
 * rows shown (as the original's /last_backups page).
 */
import { api } from './api.js';
import { h, replace } from './dom.js';
import * as fmt from './fmt.js';

const COLS = [
	{ key: 'backup_start', label: 'Start', fmt: fmt.date },
	{ key: 'backup_name', label: 'Job' },
	{ key: 'server_name', label: 'Server' },
	{ key: 'status', label: 'Status' },
	{ key: 'backup_duration', label: 'Duration', num: true, fmt: (v) => fmt.duration(Number(v) * 3600) },
	{ key: 'written_files_count', label: 'Written files', num: true, fmt: fmt.count },
	{ key: 'total_files_count', label: 'Total files', num: true, fmt: fmt.count },
	{ key: 'written_bytes', label: 'Written', num: true, fmt: fmt.bytes },
	{ key: 'total_bytes', label: 'Total size', num: true, fmt: fmt.bytes },
	{ key: 'backup_location', label: 'Location', mono: true, fmt: fmt.location },
];

/*
 * Pages by the API's next cursor (after=): `after` is the current page's
 * cursor ('' for the first), `trail` the cursors of the pages before it
 * (for "Newer"), `offset` only counts rows for the "1–50 of N" label.
 */
const state = { job: '', status: '', type: 'BACKUP', since: '', until: '', limit: 50, offset: 0, after: '', trail: [], sort: 'backup_start', desc: true };

/* Back to the first page (a filter or the page size changed). */
function firstPage() {
	state.offset = 0;
	state.after = '';
	state.trail = [];
}

function cmp(a, b, col) {
	const x = a[col.key];
	const y = b[col.key];
	if (col.num) return (Number(x) || 0) - (Number(y) || 0);
	return String(x ?? '').localeCompare(String(y ?? ''));
}

function select(id, label, options, value, onchange) {
	const el = h('select', { id, onchange }, options.map(([v, t]) => h('option', { value: v, selected: v === value, text: t })));
	return h('div', { class: 'field' }, h('label', { for: id, text: label }), el);
}

export async function render(main) {
	const jobs = await api('/api/v1/jobs').catch(() => ({ items: [] }));
	const names = (jobs.items || []).map((j) => j.name).sort();
	const table = h('div', { class: 'table-wrap' });
	const pager = h('div', { class: 'pager' });
	const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
	let rows = [];
	let total = 0;
	let next = '';

	const set = (k) => (ev) => {
		state[k] = ev.currentTarget.value;
		firstPage();
		load();
	};

	function draw() {
		const col = COLS.find((c) => c.key === state.sort) || COLS[0];
		const sorted = [...rows].sort((a, b) => (state.desc ? -1 : 1) * cmp(a, b, col));
		let dur = 0;
		let wb = 0;
		for (const r of rows) {
			dur += Number(r.backup_duration) || 0;
			wb += Number(r.written_bytes) || 0;
		}
		const head = COLS.map((c) => {
			const active = c.key === state.sort;
			return h(
				'th',
				{ scope: 'col', class: c.num ? 'num' : null, 'aria-sort': active ? (state.desc ? 'descending' : 'ascending') : 'none' },
				h(
					'button',
					{
						type: 'button',
						class: 'sort',
						onclick: () => {
							state.desc = active ? !state.desc : c.key === 'backup_start';
							state.sort = c.key;
							draw();
						},
					},
					c.label,
					h('span', { class: 'sort-mark', 'aria-hidden': 'true', text: active ? (state.desc ? ' ▼' : ' ▲') : '' }),
				),
			);
		});
		replace(
			table,
			h(
				'table',
				{ class: 'backups' },
				h('thead', {}, h('tr', {}, head)),
				h(
					'tbody',
					{},
					sorted.length === 0
						? h('tr', {}, h('td', { colspan: String(COLS.length), class: 'muted', text: 'No row matches.' }))
						: sorted.map((r) =>
								h(
									'tr',
									{ dataset: { job: r.backup_name } },
									COLS.map((c) => {
										const v = r[c.key];
										const text = c.fmt ? c.fmt(v) : (v ?? '—');
										const cls = [c.num ? 'num' : '', c.mono ? 'mono truncate' : '', c.key === 'status' ? `status-text health-${v === 'OK' ? 'ok' : v === 'Running' ? 'running' : 'critical'}` : ''].join(' ').trim();
										return h('td', { 'data-label': c.label, class: cls || null, title: c.mono ? String(v ?? '') : null }, c.key === 'backup_name' ? h('a', { href: `#/job/${encodeURIComponent(v)}`, text: v }) : String(text));
									}),
								),
							),
				),
				h(
					'tfoot',
					{},
					h(
						'tr',
						{},
						h('th', { scope: 'row', colspan: '4', text: `Totals of the ${rows.length} rows shown` }),
						h('td', { class: 'num', id: 'total-duration', text: fmt.duration(dur * 3600) }),
						h('td', { colspan: '2' }),
						h('td', { class: 'num', id: 'total-written', text: fmt.bytes(wb) }),
						h('td', { colspan: '2' }),
					),
				),
			),
		);
		const from = total === 0 ? 0 : state.offset + 1;
		const to = state.offset + rows.length;
		replace(
			pager,
			h('button', { type: 'button', class: 'btn', disabled: state.trail.length === 0, onclick: () => { state.after = state.trail.pop() ?? ''; state.offset = Math.max(0, state.offset - state.limit); load(); } }, '← Newer'),
			h('span', { class: 'muted', text: `${from}–${to} of ${total}` }),
			h('button', { type: 'button', class: 'btn', disabled: !next, onclick: () => { state.trail.push(state.after); state.after = next; state.offset += state.limit; load(); } }, 'Older →'),
		);
	}

	async function load() {
		const q = new URLSearchParams();
		for (const k of ['job', 'status', 'type', 'since', 'until']) if (state[k]) q.set(k, state[k]);
		q.set('limit', String(state.limit));
		if (state.after) q.set('after', state.after);
		try {
			const data = await api(`/api/v1/backups?${q}`);
			rows = data.items || [];
			total = data.total ?? rows.length;
			next = data.next || '';
			err.hidden = true;
		} catch (e) {
			if (e.status === 401) return;
			err.textContent = e.field ? `${e.field}: ${e.message}` : e.message;
			err.hidden = false;
			rows = [];
			total = 0;
			next = '';
		}
		draw();
	}

	/*
	 * A day typed as the rest of the UI writes dates, YYYY-MM-DD (a date
	 * input would show the browser's locale format); applied once valid.
	 */
	function dayField(id, label, key) {
		const input = h('input', {
			type: 'text',
			id,
			value: state[key],
			placeholder: 'YYYY-MM-DD',
			inputmode: 'numeric',
			maxlength: '10',
			pattern: '\\d{4}-\\d{2}-\\d{2}',
			autocomplete: 'off',
			onchange: () => {
				const v = input.value.trim();
				const okDay = v === '' || (/^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(new Date(`${v}T00:00:00`).getTime()));
				input.setAttribute('aria-invalid', okDay ? 'false' : 'true');
				if (!okDay) return;
				state[key] = v;
				firstPage();
				load();
			},
		});
		return h('div', { class: 'field' }, h('label', { for: id, text: `${label} (YYYY-MM-DD)` }), input);
	}

	const form = h(
		'form',
		{ class: 'toolbar filters', onsubmit: (ev) => ev.preventDefault(), 'aria-label': 'Filters' },
		select('f-job', 'Job', [['', 'All jobs'], ...names.map((n) => [n, n])], state.job, set('job')),
		select('f-status', 'Status', [['', 'Any'], ['OK', 'OK'], ['ERROR', 'Error'], ['Running', 'Running']], state.status, set('status')),
		select('f-type', 'Type', [['BACKUP', 'Backups'], ['EXPORT', 'Exports']], state.type, set('type')),
		dayField('f-since', 'Since', 'since'),
		dayField('f-until', 'Until', 'until'),
		select('f-limit', 'Per page', [['20', '20'], ['50', '50'], ['100', '100'], ['500', '500']], String(state.limit), (ev) => {
			state.limit = Number(ev.currentTarget.value);
			firstPage();
			load();
		}),
	);
	replace(main, h('div', { class: 'title-row' }, h('h1', { text: 'Last backups' })), h('section', { class: 'panel' }, form, err, table, pager));
	await load();
}

/*
 * Export: choose sections and a target (the USB disk the server detects,
 * or a folder on the server), start an export run, then follow it live:
 * the run's state from /api/v1/runs/ID and the per-job EXPORT rows from
 * /status.json, until it finishes.
 */
import { api, followRun, isAdmin } from './api.js';
import { h, replace, toast } from './dom.js';
import * as fmt from './fmt.js';

export async function render(main) {
	const jobs = await api('/api/v1/jobs');
	const names = (jobs.items || []).map((j) => j.name).sort();
	const progress = h('section', { class: 'panel export-progress', 'aria-live': 'polite', hidden: true });
	let stopped = false;

	const boxes = names.map((n) => h('input', { type: 'checkbox', id: `sec-${n}`, value: n, checked: true, class: 'section-box' }));
	const all = h('input', {
		type: 'checkbox',
		id: 'sec-all',
		checked: true,
		onchange: () => {
			for (const b of boxes) b.checked = all.checked;
		},
	});
	const dir = h('input', { type: 'text', id: 'export-dir', placeholder: '/srv/export', disabled: true, autocomplete: 'off', spellcheck: 'false' });
	const usb = h('input', { type: 'radio', name: 'target', id: 'target-usb', value: 'usb', checked: true, onchange: () => (dir.disabled = true) });
	const folder = h('input', {
		type: 'radio',
		name: 'target',
		id: 'target-dir',
		value: 'dir',
		onchange: () => {
			dir.disabled = false;
			dir.focus();
		},
	});
	const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
	const startBtn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'export-start' }, 'Start export');

	function statusTable(st) {
		const rows = (st && st.data) || [];
		return h(
			'div',
			{ class: 'table-wrap' },
			h(
				'table',
				{ class: 'export-rows' },
				h('thead', {}, h('tr', {}, ['Job', 'Status', 'Start', 'Duration', 'Written', 'Location'].map((c) => h('th', { scope: 'col', text: c })))),
				h(
					'tbody',
					{},
					rows.length === 0
						? h('tr', {}, h('td', { colspan: '6', class: 'muted', text: 'No job exported yet.' }))
						: rows.map((r) =>
								h(
									'tr',
									{},
									h('td', { 'data-label': 'Job', text: r.backup_name }),
									h('td', { 'data-label': 'Status', class: `status-text health-${r.status === 'OK' ? 'ok' : r.status === 'Running' ? 'running' : 'critical'}`, text: r.status || '—' }),
									h('td', { 'data-label': 'Start', text: fmt.date(r.backup_start) }),
									h('td', { 'data-label': 'Duration', class: 'num', text: fmt.duration(Number(r.backup_duration) * 3600) }),
									h('td', { 'data-label': 'Written', class: 'num', text: fmt.bytes(r.written_bytes) }),
									h('td', { 'data-label': 'Location', class: 'mono', title: r.backup_location || '', text: fmt.location(r.backup_location) }),
								),
							),
				),
			),
		);
	}

	async function follow(id) {
		progress.hidden = false;
		const head = h('p', { class: 'run-line' });
		const rowsBox = h('div');
		const log = h('pre', { class: 'log', hidden: true });
		replace(progress, h('h2', { text: 'Progress' }), head, rowsBox, log);
		/*
		 * The state and the rows are shown together, once the rows read
		 * after that state are in: a "done" badge never sits above rows
		 * still saying Running. An answer that comes back after a newer
		 * one was shown is dropped.
		 */
		let asked = 0;
		let shown = 0;
		const show = async (run) => {
			const mine = ++asked;
			let st;
			let stFailed = false;
			try {
				st = await api('/status.json');
			} catch {
				stFailed = true; /* keep the previous rows */
			}
			if (mine < shown) return;
			shown = mine;
			replace(head, h('span', { class: `badge run run-${run.state}`, dataset: { runState: run.state } }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), `export ${run.state}`), ` ${(run.sections || []).join(', ')}`, run.error ? h('span', { class: 'form-error', text: ` — ${run.error}` }) : null);
			if (!stFailed) replace(rowsBox, statusTable(st), st && st.error ? h('p', { class: 'form-error', text: st.error }) : null);
			if (run.log) {
				log.textContent = run.log;
				log.hidden = false;
			}
		};
		startBtn.disabled = true;
		try {
			const final = await followRun(id, (run) => {
				if (!stopped) show(run);
			});
			if (!stopped) toast(`Export ${final.state}${final.error ? ` — ${final.error}` : ''}`, final.state === 'done' ? 'ok' : 'error');
		} finally {
			startBtn.disabled = false;
		}
	}

	async function start(ev) {
		ev.preventDefault();
		err.hidden = true;
		const sections = boxes.filter((b) => b.checked).map((b) => b.value);
		const body = { action: 'export', sections };
		if (folder.checked) body.exportdir = dir.value.trim();
		if (sections.length === 0) {
			err.textContent = 'Choose at least one job.';
			err.hidden = false;
			return;
		}
		if (folder.checked && !body.exportdir.startsWith('/')) {
			err.textContent = 'The folder must be an absolute path on the server.';
			err.hidden = false;
			dir.focus();
			return;
		}
		try {
			const r = await api('/api/v1/runs', { method: 'POST', body });
			follow(r.id);
		} catch (e) {
			err.textContent = e.message;
			err.hidden = false;
		}
	}

	const form = h(
		'form',
		{ class: 'panel export-form', onsubmit: start },
		h(
			'fieldset',
			{},
			h('legend', { text: 'Jobs to export' }),
			h('div', { class: 'check all' }, all, h('label', { for: 'sec-all', text: 'All jobs' })),
			h('div', { class: 'checks' }, names.map((n, i) => h('div', { class: 'check' }, boxes[i], h('label', { for: `sec-${n}`, text: n })))),
		),
		h(
			'fieldset',
			{},
			h('legend', { text: 'Target' }),
			h('div', { class: 'check' }, usb, h('label', { for: 'target-usb', text: 'USB disk connected to the server (ext4 partition labelled tisbackup)' })),
			h('div', { class: 'check' }, folder, h('label', { for: 'target-dir', text: 'Folder on the server' })),
			h('div', { class: 'field indent' }, h('label', { for: 'export-dir', class: 'sr-only', text: 'Export folder' }), dir),
		),
		err,
		isAdmin() ? h('div', { class: 'form-actions' }, startBtn) : h('p', { class: 'muted', text: 'Only administrators can start an export.' }),
	);
	replace(main, h('div', { class: 'title-row' }, h('h1', { text: 'Export backups' })), form, progress);

	try {
		const active = await api('/api/v1/runs?active=1&limit=20');
		const run = (active.items || []).find((r) => r.action === 'export');
		if (run) follow(run.id);
	} catch {
		/* no queue: the form still works */
	}
	return () => {
		stopped = true;
	};
}

/*
 * Runs: what the queue did lately (from the UI, the API or the
 * scheduler): action, jobs, state, who asked, times, exit code and error,
 * and the transfer progress of a running backup; selecting a run shows
 * its log (text only). Below, every backup run the catalog recorded,
 * whoever started it (the queue, cron, a shell), with the progress of
 * those running. Refreshes every 2 s while a run is queued or running.
 */
import { api } from './api.js';
import { h, replace } from './dom.js';
import * as fmt from './fmt.js';
import { runBadge } from './dashboard.js';
import { progressBox } from './progress.js';

/* The progress widgets of a running run's jobs ({job: progress}). */
function runProgress(r) {
	if (!r.progress) return null;
	const named = Object.entries(r.progress).filter(([, p]) => p);
	return named.map(([name, p]) => h('div', { class: 'run-progress', dataset: { job: name } }, named.length > 1 || (r.sections || []).length > 1 ? h('span', { class: 'muted', text: name }) : null, progressBox(p)));
}

/* The last backup runs of the catalog, with the progress of those running. */
async function catalogRuns(el) {
	const data = await api('/api/v1/backups?type=BACKUP&limit=30');
	const items = data.items || [];
	const running = [...new Set(items.filter((r) => r.status === 'Running').map((r) => r.backup_name))];
	const progress = new Map();
	await Promise.all(
		running.map((name) =>
			api(`/api/v1/jobs/${encodeURIComponent(name)}`)
				.then((j) => progress.set(name, j.progress))
				.catch(() => {}),
		),
	);
	replace(
		el,
		items.length === 0
			? h('p', { class: 'muted', text: 'No backup recorded yet.' })
			: h(
					'table',
					{ class: 'runs catalog-runs' },
					h('thead', {}, h('tr', {}, ['Job', 'Status', 'Start', 'Duration', 'Written', 'Log'].map((c) => h('th', { scope: 'col', text: c })))),
					h(
						'tbody',
						{},
						items.map((r) =>
							h(
								'tr',
								{ dataset: { job: r.backup_name, status: r.status } },
								h('td', { 'data-label': 'Job' }, h('a', { href: `#/job/${encodeURIComponent(r.backup_name)}`, text: r.backup_name })),
								h(
									'td',
									{ 'data-label': 'Status' },
									h('span', { class: `status-text health-${r.status === 'OK' ? 'ok' : r.status === 'Running' ? 'running' : 'critical'}`, text: r.status }),
									r.status === 'Running' ? progressBox(progress.get(r.backup_name)) : null,
								),
								h('td', { 'data-label': 'Start', text: fmt.date(r.backup_start) }),
								h('td', { 'data-label': 'Duration', class: 'num', text: r.status === 'Running' ? '—' : fmt.duration(Number(r.backup_duration) * 3600) }),
								h('td', { 'data-label': 'Written', class: 'num', text: fmt.bytes(r.written_bytes) }),
								h('td', { 'data-label': 'Log', class: 'truncate', title: r.log || '', text: String(r.log || '').split('\n')[0] }),
							),
						),
					),
				),
	);
	return running.length > 0;
}

function secondsBetween(a, b) {
	const x = fmt.parseDate(a);
	const y = fmt.parseDate(b);
	return x && y ? (y - x) / 1000 : null;
}

export async function render(main) {
	const table = h('div', { class: 'table-wrap' });
	const detail = h('section', { class: 'panel', id: 'run-detail', hidden: true });
	const catalog = h('div', { class: 'table-wrap', id: 'catalog-runs' });
	let selected = null;
	let timer = null;
	let gone = false;

	async function showRun(id) {
		selected = id;
		const run = await api(`/api/v1/runs/${encodeURIComponent(id)}`);
		detail.hidden = false;
		replace(
			detail,
			h('h2', {}, `Run ${run.id}`, runBadge(run)),
			h('p', { class: 'muted', text: `${run.action} of ${(run.sections || []).join(', ')}${run.exportdir ? ` to ${run.exportdir}` : ''}, asked by ${run.requested_by || '—'}, attempt ${run.attempts ?? '—'}` }),
			run.error ? h('p', { class: 'form-error', text: run.error }) : null,
			run.log ? h('pre', { class: 'log', id: 'run-log', tabindex: '0', text: run.log }) : h('p', { class: 'muted', text: 'No log yet.' }),
		);
	}

	async function load() {
		const data = await api('/api/v1/runs?limit=100');
		const items = data.items || [];
		replace(
			table,
			items.length === 0
				? h('p', { class: 'muted', text: 'No run yet: runs appear here when someone clicks Run now, calls the API, or the scheduler queues one.' })
				: h(
						'table',
						{ class: 'runs' },
						h('thead', {}, h('tr', {}, ['Run', 'Action', 'Jobs', 'State', 'Asked by', 'Created', 'Duration', 'Exit', 'Error'].map((c) => h('th', { scope: 'col', text: c })))),
						h(
							'tbody',
							{},
							items.map((r) =>
								h(
									'tr',
									{ dataset: { run: r.id, state: r.state }, class: r.id === selected ? 'selected' : null },
									h('td', { 'data-label': 'Run' }, h('button', { type: 'button', class: 'link', 'aria-label': `Show run ${r.id}`, onclick: () => showRun(r.id).then(load) }, String(r.id))),
									h('td', { 'data-label': 'Action', text: r.action }),
									h('td', { 'data-label': 'Jobs', class: 'truncate', title: (r.sections || []).join(', '), text: (r.sections || []).join(', ') }),
									h('td', { 'data-label': 'State' }, h('span', { class: `badge run run-${r.state}`, title: r.cancelled_by ? `cancelled by ${r.cancelled_by}` : '', text: r.cancel_requested && !['done', 'failed', 'cancelled'].includes(r.state) ? 'cancelling' : r.state }), runProgress(r)),
									h('td', { 'data-label': 'Asked by', text: r.requested_by || '—' }),
									h('td', { 'data-label': 'Created', text: fmt.date(r.created) }),
									h('td', { 'data-label': 'Duration', class: 'num', text: r.started ? fmt.duration(secondsBetween(r.started, r.finished || new Date().toISOString())) : '—' }),
									h('td', { 'data-label': 'Exit', class: 'num', text: r.exit_code ?? '—' }),
									h('td', { 'data-label': 'Error', class: 'truncate', title: r.error || '', text: r.error || '' }),
								),
							),
						),
					),
		);
		const catalogActive = await catalogRuns(catalog).catch(() => false);
		const active = catalogActive || items.some((r) => r.state === 'queued' || r.state === 'running');
		clearTimeout(timer);
		if (active && !gone)
			timer = setTimeout(() => {
				load().catch(() => {});
				if (selected) showRun(selected).catch(() => {});
			}, 2000);
	}

	replace(
		main,
		h('div', { class: 'title-row' }, h('h1', { text: 'Runs' })),
		h('section', { class: 'panel' }, h('h2', { text: 'Queued runs' }), table),
		detail,
		h('section', { class: 'panel' }, h('h2', { text: 'Every backup run (the catalog: queue, cron and command line)' }), catalog),
	);
	await load();
	return () => {
		gone = true;
		clearTimeout(timer);
	};
}

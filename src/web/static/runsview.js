/*
 * Runs: what the queue did lately (from the UI, the API or the
 * scheduler): action, jobs, state, who asked, times, exit code and error;
 * selecting a run shows its log (text only). Refreshes every 2 s while a
 * run is queued or running.
 */
import { api } from './api.js';
import { h, replace } from './dom.js';
import * as fmt from './fmt.js';
import { runBadge } from './dashboard.js';

function secondsBetween(a, b) {
	const x = fmt.parseDate(a);
	const y = fmt.parseDate(b);
	return x && y ? (y - x) / 1000 : null;
}

export async function render(main) {
	const table = h('div', { class: 'table-wrap' });
	const detail = h('section', { class: 'panel', id: 'run-detail', hidden: true });
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
									h('td', { 'data-label': 'State' }, h('span', { class: `badge run run-${r.state}`, text: r.cancel_requested && !['done', 'failed', 'cancelled'].includes(r.state) ? 'cancelling' : r.state })),
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
		const active = items.some((r) => r.state === 'queued' || r.state === 'running');
		clearTimeout(timer);
		if (active && !gone)
			timer = setTimeout(() => {
				load().catch(() => {});
				if (selected) showRun(selected).catch(() => {});
			}, 2000);
	}

	replace(main, h('div', { class: 'title-row' }, h('h1', { text: 'Runs' })), h('section', { class: 'panel' }, table), detail);
	await load();
	return () => {
		gone = true;
		clearTimeout(timer);
	};
}

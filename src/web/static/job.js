/*
 * One job: its facts, charts of duration and written bytes over its last
 * runs (hand-written SVG), the history table, what cleanup would keep and
 * delete now (GET /api/v1/jobs/NAME/retention, the rule deciding each
 * backup) and the last run's log (a <pre> filled with textContent: the
 * log is shown as text, never interpreted).
 */
import { api } from './api.js';
import { lineChart, byteUnit, secondUnit } from './chart.js';
import { healthBadge, runBadge, runButtons, runKey } from './dashboard.js';
import { h, replace } from './dom.js';
import * as fmt from './fmt.js';
import { onRunChange, runFor } from './runs.js';

function fact(label, value, title) {
	return h('div', {}, h('dt', { text: label }), h('dd', { title: title || null }, value));
}

function statusText(st) {
	const cls = st === 'OK' ? 'ok' : st === 'Running' ? 'running' : st ? 'critical' : 'unknown';
	return h('span', { class: `status-text health-${cls}`, text: st || '—' });
}

/* The retention table: every backup, keep or delete, and the deciding rule. */
function retentionPanel(ret) {
	const items = ret ? ret.items || [] : [];
	return h(
		'section',
		{ class: 'panel', id: 'retention' },
		h('h2', {}, 'Retention', h('span', { class: 'count', text: ret ? `${ret.keep} kept, ${ret.delete} to delete` : '—' })),
		ret ? h('p', { class: 'muted', id: 'retention-policy', text: `${ret.policy.text} (age window from ${ret.cutoff})` }) : h('p', { class: 'muted', text: 'Retention could not be computed.' }),
		items.length === 0
			? h('p', { class: 'muted', text: 'No backup.' })
			: h(
					'div',
					{ class: 'table-wrap' },
					h(
						'table',
						{ class: 'retention' },
						h('thead', {}, h('tr', {}, ['Start', 'Status', 'Decision', 'Rule', 'Location'].map((c) => h('th', { scope: 'col', text: c })))),
						h(
							'tbody',
							{},
							items.map((it) =>
								h(
									'tr',
									{ class: it.action === 'delete' ? 'retention-delete' : 'retention-keep' },
									h('td', { 'data-label': 'Start', text: it.start ? fmt.date(it.start) : '—' }),
									h('td', { 'data-label': 'Status' }, statusText(it.status), it.partial ? ' (partial)' : ''),
									h('td', { 'data-label': 'Decision', class: `decision decision-${it.action}`, text: it.action }),
									h('td', { 'data-label': 'Rule', title: it.rules.join(', '), text: it.reason }),
									h('td', { 'data-label': 'Location', class: 'mono', text: it.location }),
								),
							),
						),
					),
				),
	);
}

export async function render(main, name) {
	const box = h('div', { class: 'job-page' });

	async function load() {
		const j = await api(`/api/v1/jobs/${encodeURIComponent(name)}`);
		const ret = await api(`/api/v1/jobs/${encodeURIComponent(name)}/retention`).catch(() => null);
		const hist = j.history || [];
		const points = hist.map((r) => ({ t: fmt.parseDate(r.start), start: r.start, status: r.status }));
		const durations = points.map((p, i) => ({ ...p, v: Number(hist[i].duration_s) }));
		const written = points.map((p, i) => ({ ...p, v: Number(hist[i].written_bytes) }));
		const run = runFor(name);
		replace(
			box,
			h('p', { class: 'crumbs' }, h('a', { href: '#/', text: '← All jobs' })),
			h(
				'div',
				{ class: 'panel job-head' },
				h('div', { class: 'title' }, h('h1', { text: j.name }), healthBadge(j), h('span', { class: 'run-slot' }, runBadge(run)), runButtons(name)),
				h(
					'dl',
					{ class: 'facts' },
					fact('Server', j.server_name || '—'),
					fact('Type', j.type || '—'),
					fact('Target', h('span', { class: 'mono', text: j.target || '—' })),
					fact('Last good backup', fmt.age(j.age_hours), j.last_ok_end ? fmt.date(j.last_ok_end) : ''),
					fact('Maximum age', j.maximum_backup_age != null ? `${j.maximum_backup_age} h` : '—'),
					fact('Last run', [statusText(j.last_status), ` ${fmt.date(j.last_start)}`]),
					fact('Last duration', fmt.duration(j.last_duration_s)),
					fact('Last written / total', `${fmt.bytes(j.last_written_bytes)} / ${fmt.bytes(j.last_total_bytes)}`),
				),
			),
			h(
				'div',
				{ class: 'charts' },
				h(
					'figure',
					{ class: 'panel chart-box', id: 'chart-duration' },
					h('figcaption', { text: 'Duration per run' }),
					lineChart(durations, { title: `Duration of the runs of ${j.name}`, axis: 'duration', unit: secondUnit, format: fmt.duration }),
				),
				h(
					'figure',
					{ class: 'panel chart-box', id: 'chart-written' },
					h('figcaption', { text: 'Bytes written per run' }),
					lineChart(written, { title: `Bytes written by the runs of ${j.name}`, axis: 'written', unit: byteUnit, format: fmt.bytes }),
				),
			),
			h(
				'section',
				{ class: 'panel' },
				h('h2', {}, 'History', h('span', { class: 'count', text: String(hist.length) })),
				hist.length === 0
					? h('p', { class: 'muted', text: 'No run recorded yet.' })
					: h(
							'div',
							{ class: 'table-wrap' },
							h(
								'table',
								{ class: 'history' },
								h('thead', {}, h('tr', {}, ['Start', 'End', 'Status', 'Duration', 'Written files', 'Total files', 'Written', 'Total'].map((c) => h('th', { scope: 'col', text: c })))),
								h(
									'tbody',
									{},
									[...hist].reverse().map((r) =>
										h(
											'tr',
											{},
											h('td', { 'data-label': 'Start', text: fmt.date(r.start) }),
											h('td', { 'data-label': 'End', text: fmt.date(r.end) }),
											h('td', { 'data-label': 'Status' }, statusText(r.status)),
											h('td', { 'data-label': 'Duration', class: 'num', text: fmt.duration(r.duration_s) }),
											h('td', { 'data-label': 'Written files', class: 'num', text: fmt.count(r.written_files) }),
											h('td', { 'data-label': 'Total files', class: 'num', text: fmt.count(r.total_files) }),
											h('td', { 'data-label': 'Written', class: 'num', text: fmt.bytes(r.written_bytes) }),
											h('td', { 'data-label': 'Total', class: 'num', text: fmt.bytes(r.total_bytes) }),
										),
									),
								),
							),
						),
			),
			retentionPanel(ret),
			h('section', { class: 'panel' }, h('h2', { text: 'Last run log' }), j.last_log ? h('pre', { class: 'log', id: 'last-log', tabindex: '0', text: j.last_log }) : h('p', { class: 'muted', text: 'No log recorded.' })),
		);
	}

	await load();
	replace(main, box);
	return onRunChange((run, finished) => {
		if (!(run.sections || []).includes(name)) return;
		if (finished) load().catch(() => {});
		else {
			const slot = box.querySelector('.run-slot');
			if (slot && slot.dataset.runKey !== runKey(run)) {
				slot.dataset.runKey = runKey(run);
				replace(slot, runBadge(run));
			}
			for (const b of box.querySelectorAll('.job-head .actions button')) b.disabled = true;
		}
	});
}

/*
 * One job: its facts, charts of duration and written bytes over its last
 * runs (hand-written SVG), the history table, what cleanup would keep and
 * delete now (GET /api/v1/jobs/NAME/retention, the rule deciding each
 * backup), for single-file backups (a switch's configuration) a diff
 * between any two versions (GET /api/v1/jobs/NAME/diff), and the last
 * run's log (a <pre> filled with textContent: the log and the diff are
 * shown as text, never interpreted).
 */
import { api } from './api.js';
import { browsePanel } from './browse.js';
import { lineChart, byteUnit, secondUnit } from './chart.js';
import { healthBadge, runBadge, runButtons, runKey } from './dashboard.js';
import { h, replace } from './dom.js';
import * as fmt from './fmt.js';
import { onRunChange, runFor } from './runs.js';
import { verifyBadge } from './verify.js'; /* the "verified" badge (tisbackup verify) */
import { importPanel } from './xva_import.js'; /* xen-xva: restore --import-to SR */

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
									h('td', { 'data-label': 'Location', class: 'mono', title: it.location || '', text: fmt.location(it.location) }),
								),
							),
						),
					),
				),
	);
}

const STAMP = /(\d{8}-\d{2}h\d{2}m\d{2})/;

/*
 * Versions of a single-file backup: pick two (the two newest good ones by
 * default) and see what changed, as a unified diff with added and removed
 * lines marked.
 */
function versionsPanel(name, ret) {
	const seen = new Set();
	const versions = [];
	for (const it of ret ? ret.items || [] : []) {
		const m = it.status === 'OK' && it.location ? STAMP.exec(it.location.split('/').pop()) : null;
		if (m && !seen.has(m[1])) {
			seen.add(m[1]);
			versions.push({ stamp: m[1], start: it.start });
		}
	}
	versions.sort((a, b) => (a.stamp < b.stamp ? 1 : -1));
	const pick = (id, label, sel) =>
		h(
			'label',
			{},
			`${label} `,
			h(
				'select',
				{ id },
				versions.map((v, i) => h('option', { value: v.stamp, selected: i === sel ? '' : null, text: v.start ? fmt.date(v.start) : v.stamp })),
			),
		);
	const out = h('div', { id: 'diff-out' });
	const show = async () => {
		const from = box.querySelector('#diff-from').value;
		const to = box.querySelector('#diff-to').value;
		replace(out, h('p', { class: 'muted', text: 'Comparing…' }));
		try {
			const text = await api(`/api/v1/jobs/${encodeURIComponent(name)}/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, { text: true });
			if (!text) {
				replace(out, h('p', { class: 'muted', id: 'diff-same', text: 'The two versions are identical.' }));
				return;
			}
			const lines = text.replace(/\n$/, '').split('\n');
			const cls = (l) => (l.startsWith('+++') || l.startsWith('---') ? 'diff-file' : l.startsWith('@@') ? 'diff-hunk' : l.startsWith('+') ? 'diff-add' : l.startsWith('-') ? 'diff-del' : 'diff-ctx');
			replace(out, h('pre', { class: 'diff', id: 'diff-text', tabindex: '0' }, lines.map((l) => h('span', { class: cls(l), text: `${l}\n` }))));
		} catch (e) {
			replace(out, h('p', { class: 'error', role: 'alert', text: `No diff: ${e.message}` }));
		}
	};
	const box = h(
		'section',
		{ class: 'panel', id: 'versions' },
		h('h2', {}, 'Versions', h('span', { class: 'count', text: String(versions.length) })),
		versions.length < 2
			? h('p', { class: 'muted', text: 'At least two good backups are needed to compare versions.' })
			: h('div', { class: 'diff-form' }, pick('diff-from', 'From', 1), pick('diff-to', 'to', 0), h('button', { type: 'button', class: 'btn', id: 'diff-show', onclick: show, text: 'Show changes' })),
		out,
	);
	return box;
}

export async function render(main, name) {
	const box = h('div', { class: 'job-page' });

	async function load() {
		const j = await api(`/api/v1/jobs/${encodeURIComponent(name)}`);
		const ret = await api(`/api/v1/jobs/${encodeURIComponent(name)}/retention`).catch(() => null);
		const hist = j.history || [];
		const points = hist.map((r) => ({ t: fmt.parseDate(r.start), start: r.start, status: r.status }));
		const durations = points.map((p, i) => ({ ...p, v: Number(hist[i].duration_s) }));
		/* Unknown written bytes (null) are no point at all, not a 0. */
		const written = points.map((p, i) => ({ ...p, v: hist[i].written_bytes === null || hist[i].written_bytes === undefined ? NaN : Number(hist[i].written_bytes) }));
		const run = runFor(name);
		replace(
			box,
			h('p', { class: 'crumbs' }, h('a', { href: '#/', text: '← All jobs' })),
			h(
				'div',
				{ class: 'panel job-head' },
				h('div', { class: 'title' }, h('h1', { text: j.name }), healthBadge(j), h('span', { class: 'run-slot' }, runBadge(run)), j.no_data ? null : runButtons(name)),
				h(
					'dl',
					{ class: 'facts' },
					fact('Server', j.server_name || '—'),
					fact('Type', j.type || '—'),
					fact('Target', h('span', { class: 'mono', text: j.target || '—' })),
					fact('Last good backup', fmt.age(j.age_hours), j.last_ok_end ? fmt.date(j.last_ok_end) : ''),
					fact('Verified', verifyBadge(j) || h('span', { class: 'muted', text: 'never' })),
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
			j.single_file ? versionsPanel(name, ret) : null,
			j.type === 'xen-xva' ? importPanel(name, ret) : null,
			j.single_file ? null : browsePanel(name, ret, j.db_dump), /* browse.js: the snapshot browser */
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

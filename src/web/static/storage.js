/*
 * The dashboard's storage section (GET /api/v1/storage): what each job's
 * snapshots use on the backup filesystem (each hard-linked inode once), as
 * a table and as shares of one bar of the filesystem, and a chart of the
 * daily used bytes with the forecast's line up to the day it is full.
 * Everything here is its own section: dashboard.js only places it.
 */
import { api } from './api.js';
import { h, s, replace } from './dom.js';
import * as fmt from './fmt.js';
import { byteUnit } from './chart.js';

const W = 640;
const H = 200;
const M = { top: 14, right: 16, bottom: 32, left: 64 };
const DAY = 86400e3;
const COLOURS = 6; /* .su-c0 .. .su-c5 in app.css */

function dayDate(day) {
	const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || '');
	return m ? new Date(+m[1], +m[2] - 1, +m[3]) : null;
}

/* A bar segment of width w % (CSSOM, not a style attribute: the CSP allows it). */
function seg(cls, w, title) {
	const e = h('span', { class: `su-seg ${cls}`, title });
	e.style.width = `${w.toFixed(3)}%`;
	return e;
}

/* The filesystem as one bar: each job's share, the rest of the used bytes, the free bytes. */
function shareBar(jobs, fs) {
	const size = fs.used_bytes + fs.free_bytes || 1;
	const bar = h('div', { class: 'su-bar', role: 'img', 'aria-label': 'Backup filesystem: share of each job' });
	let counted = 0;
	jobs.forEach((j, i) => {
		const w = (100 * j.unique_disk_bytes) / size;
		counted += j.unique_disk_bytes;
		bar.append(seg(`su-c${i % COLOURS}`, w, `${j.name}: ${fmt.bytes(j.unique_disk_bytes)}`));
	});
	const other = Math.max(fs.used_bytes - counted, 0);
	bar.append(seg('su-other', (100 * other) / size, `other files: ${fmt.bytes(other)}`));
	return bar;
}

function jobTable(jobs, fs) {
	const size = fs ? fs.used_bytes + fs.free_bytes : 0;
	const rows = jobs.map((j, i) =>
		h(
			'tr',
			{ 'data-storage-job': j.name },
			h('td', {}, h('span', { class: `su-key su-c${i % COLOURS}`, 'aria-hidden': 'true' }), h('a', { href: `#/job/${encodeURIComponent(j.name)}`, text: j.name })),
			h('td', { class: 'num', text: fmt.count(j.snapshots) }),
			h('td', { class: 'num', text: fmt.bytes(j.unique_disk_bytes) }),
			h('td', { class: 'num', text: fmt.bytes(j.unique_bytes) }),
			h('td', { class: 'num', text: size ? `${((100 * j.unique_disk_bytes) / size).toFixed(1)} %` : '—' }),
		),
	);
	return h(
		'table',
		{ class: 'su-table' },
		h('thead', {}, h('tr', {}, h('th', { text: 'Job' }), h('th', { class: 'num', text: 'Snapshots' }), h('th', { class: 'num', text: 'On disk' }), h('th', { class: 'num', text: 'Apparent' }), h('th', { class: 'num', text: 'Of the filesystem' }))),
		h('tbody', {}, rows),
	);
}

/* Used bytes per day (points) and the forecast's line to the capacity (dashed). */
function usageChart(samples, fc) {
	const pts = samples.map((x) => ({ t: dayDate(x.day), v: x.used_bytes })).filter((p) => p.t);
	const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart su-chart', role: 'img', 'aria-label': `Used space, ${pts.length} daily samples` });
	svg.append(s('title', { text: 'Used space of the backup filesystem per day, and its projection' }));
	if (pts.length === 0) {
		svg.append(s('text', { x: W / 2, y: H / 2, class: 'chart-empty', 'text-anchor': 'middle', text: 'no samples yet' }));
		return svg;
	}
	const today = new Date();
	today.setHours(0, 0, 0, 0);
	const full = fc && fc.full_day ? dayDate(fc.full_day) : null;
	let t0 = Math.min(...pts.map((p) => p.t.getTime()));
	let t1 = Math.max(today.getTime(), ...pts.map((p) => p.t.getTime()));
	/* Show the projection up to the full day, at most as far ahead as the history goes back. */
	const ahead = full ? Math.min(full.getTime(), t1 + Math.max(t1 - t0, 7 * DAY)) : t1;
	t1 = Math.max(t1, ahead);
	if (t1 - t0 < DAY) t0 = t1 - DAY;
	const cap = fc && fc.capacity_bytes ? fc.capacity_bytes : 0;
	const maxV = Math.max(cap, ...pts.map((p) => p.v), 1);
	const unit = byteUnit(maxV);
	const iw = W - M.left - M.right;
	const ih = H - M.top - M.bottom;
	const x = (t) => M.left + ((t - t0) / (t1 - t0)) * iw;
	const y = (v) => M.top + ih - (v / maxV) * ih;
	const grid = s('g', { class: 'chart-grid' });
	for (let i = 0; i <= 4; i++) {
		const v = (maxV * i) / 4;
		grid.append(s('line', { x1: M.left, x2: M.left + iw, y1: y(v), y2: y(v) }));
		grid.append(s('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end', text: (v / unit.div).toFixed(v / unit.div < 10 ? 1 : 0) }));
	}
	/* Day ticks on whole days, at most four, never the same date twice. */
	const d0 = new Date(t0);
	const span = Math.max(1, Math.round((t1 - t0) / DAY));
	const nt = Math.min(3, span);
	for (let i = 0; i <= nt; i++) {
		const t = new Date(d0.getFullYear(), d0.getMonth(), d0.getDate() + Math.round((span * i) / nt));
		grid.append(s('text', { x: x(t.getTime()), y: M.top + ih + 18, 'text-anchor': i === 0 ? 'start' : i === nt ? 'end' : 'middle', text: fmt.day(t) }));
	}
	svg.append(grid);
	svg.append(
		s('line', { class: 'chart-axis', x1: M.left, x2: M.left, y1: M.top, y2: M.top + ih }),
		s('line', { class: 'chart-axis', x1: M.left, x2: M.left + iw, y1: M.top + ih, y2: M.top + ih }),
		s('text', { class: 'chart-unit', x: 14, y: M.top + ih / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${M.top + ih / 2})`, text: `used (${unit.name})` }),
	);
	if (cap) svg.append(s('line', { class: 'su-cap', x1: M.left, x2: M.left + iw, y1: y(cap), y2: y(cap) }, s('title', { text: `capacity ${fmt.bytes(cap)}` })));
	svg.append(s('polyline', { class: 'chart-line', points: pts.map((p) => `${x(p.t.getTime()).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ') }));
	if (fc && fc.slope_bytes_per_day !== null && fc.used_bytes_today !== null) {
		const at = (t) => fc.used_bytes_today + (fc.slope_bytes_per_day * (t - today.getTime())) / DAY;
		const from = Math.max(t0, today.getTime() - (fc.window_days - 1) * DAY);
		svg.append(s('line', { class: 'su-projection', x1: x(from), y1: y(at(from)), x2: x(t1), y2: y(Math.min(at(t1), maxV)) }, s('title', { text: `fitted over the last ${fc.window_days} days: ${fmt.bytes(fc.slope_bytes_per_day)} a day` })));
	}
	const dots = s('g', { class: 'chart-points' });
	for (const p of pts) dots.append(s('circle', { cx: x(p.t.getTime()).toFixed(1), cy: y(p.v).toFixed(1), r: 3, class: 'pt-ok' }, s('title', { text: `${fmt.date(`${p.t.getFullYear()}-${String(p.t.getMonth() + 1).padStart(2, '0')}-${String(p.t.getDate()).padStart(2, '0')}T00:00:00`).slice(0, 10)} — ${fmt.bytes(p.v)}` })));
	svg.append(dots);
	return svg;
}

function forecastText(fc) {
	if (!fc || fc.slope_bytes_per_day === null) return `Not enough daily samples yet for a forecast (it fits the last ${fc ? fc.window_days : 30} days).`;
	if (fc.full_day === null) return `Not filling up: ${fmt.bytes(fc.slope_bytes_per_day)} a day over the last ${fc.window_days} days.`;
	return `Full on ${fc.full_day} (in ${fc.days_left.toFixed(1)} days) at ${fmt.bytes(fc.slope_bytes_per_day)} a day, fitted over the last ${fc.window_days} days.`;
}

/* The section: {el, load()}; load() fetches and redraws (errors leave the last view). */
export function storagePanel() {
	const body = h('div', { class: 'su-body' });
	const el = h('section', { class: 'panel su-panel', id: 'storage', 'aria-labelledby': 'storage-title' }, h('h2', { id: 'storage-title', text: 'Storage' }), body);
	async function load() {
		const st = await api('/api/v1/storage');
		const jobs = st.jobs || [];
		const fc = st.forecast;
		const warn = fc && fc.days_left !== null && fc.days_left <= fc.warn_days;
		replace(
			body,
			st.filesystem ? h('div', { class: 'su-total' }, `Backups use ${fmt.bytes(st.total.unique_disk_bytes)} of ${fmt.bytes(st.filesystem.used_bytes + st.filesystem.free_bytes)} (each hard-linked file once); ${fmt.bytes(st.filesystem.free_bytes)} free.`) : null,
			st.filesystem ? shareBar(jobs, st.filesystem) : null,
			jobs.length ? h('div', { class: 'su-scroll' }, jobTable(jobs, st.filesystem)) : h('p', { class: 'muted', text: 'No disk usage measured yet: it is measured after each backup.' }),
			h('p', { class: `su-forecast${warn ? ' su-warn' : ''}`, id: 'storage-forecast', text: forecastText(fc) }),
			usageChart(st.samples || [], fc),
		);
	}
	return { el, load };
}

/*
 * A hand-written SVG time-series chart: time on x, one value on y, axes
 * with units and ticks, a point per run (coloured by its status) with a
 * tooltip (<title>) giving the date and value. No library: the chart is a
 * few dozen elements built with the DOM helpers.
 */
import { s } from './dom.js';
import { date, day } from './fmt.js';

const W = 640;
const H = 220;
const M = { top: 16, right: 16, bottom: 36, left: 64 };

/* A "nice" tick step (1, 2, 2.5, 5 x 10^n) for about n ticks over range. */
function niceStep(range, n) {
	if (range <= 0) return 1;
	const raw = range / n;
	const mag = 10 ** Math.floor(Math.log10(raw));
	for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
	return 10 * mag;
}

/* The unit to show values in: {div, name} for bytes or seconds. */
export function byteUnit(max) {
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let i = 0;
	while (max >= 1024 * 2 && i < units.length - 1) {
		max /= 1024;
		i++;
	}
	return { div: 1024 ** i, name: units[i] };
}

export function secondUnit(max) {
	if (max >= 2 * 3600) return { div: 3600, name: 'h' };
	if (max >= 2 * 60) return { div: 60, name: 'min' };
	return { div: 1, name: 's' };
}

function dayLabel(d, span) {
	const p = (x) => String(x).padStart(2, '0');
	if (span < 10 * 60e3) return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
	if (span < 2 * 86400e3) return `${p(d.getHours())}:${p(d.getMinutes())}`;
	return day(d).slice(5); /* MM-DD, the ISO order */
}

/*
 * points: [{t: Date, v: number, status: 'OK'|'ERROR'|...}], oldest first.
 * opts: {title, unit: byteUnit|secondUnit, format: v => text}.
 * Returns an <svg> element (scales with its container's width).
 */
export function lineChart(points, opts) {
	const pts = points.filter((p) => p.t && Number.isFinite(p.v));
	const svg = s('svg', {
		viewBox: `0 0 ${W} ${H}`,
		class: 'chart',
		role: 'img',
		'aria-label': `${opts.title}: ${pts.length} runs`,
	});
	svg.append(s('title', { text: opts.title }));
	const iw = W - M.left - M.right;
	const ih = H - M.top - M.bottom;
	if (pts.length === 0) {
		/* Runs without a known value (unknown written bytes) are no zeros either. */
		svg.append(s('text', { x: W / 2, y: H / 2, class: 'chart-empty', 'text-anchor': 'middle', text: points.length ? 'no value recorded' : 'no runs yet' }));
		return svg;
	}
	const maxV = Math.max(...pts.map((p) => p.v), 0);
	const unit = opts.unit(maxV);
	/* All zero: one step of 1 unit, so the axis reads 0 and 1, not "0 0 0 0 0". */
	const top = maxV > 0 ? maxV / unit.div : 1;
	const step = maxV > 0 ? niceStep(top, 4) : 1;
	const yMax = Math.ceil(top / step) * step || step;
	/* As many decimals as the step needs, so that no two labels read the same. */
	const decimals = (String(Number(step.toPrecision(6))).split('.')[1] || '').length;
	let t0 = Math.min(...pts.map((p) => p.t.getTime()));
	let t1 = Math.max(...pts.map((p) => p.t.getTime()));
	/* 4 % of the span on each side keeps the first and last points off the axes. */
	const pad = t1 === t0 ? 30e3 : Math.max((t1 - t0) * 0.04, 500);
	t0 -= pad;
	t1 += pad;
	const x = (t) => M.left + ((t - t0) / (t1 - t0)) * iw;
	const y = (v) => M.top + ih - (v / unit.div / yMax) * ih;

	const grid = s('g', { class: 'chart-grid' });
	for (let v = 0; v <= yMax + step / 2; v += step) {
		const yy = M.top + ih - (v / yMax) * ih;
		grid.append(s('line', { x1: M.left, x2: M.left + iw, y1: yy, y2: yy }));
		grid.append(
			s('text', {
				class: 'chart-ylabel',
				x: M.left - 6,
				y: yy + 4,
				'text-anchor': 'end',
				text: v.toFixed(decimals),
			}),
		);
	}
	const nx = Math.min(6, Math.max(2, pts.length));
	for (let i = 0; i < nx; i++) {
		const t = t0 + ((t1 - t0) * i) / (nx - 1);
		grid.append(
			s('text', {
				x: x(t),
				y: M.top + ih + 18,
				'text-anchor': i === 0 ? 'start' : i === nx - 1 ? 'end' : 'middle',
				text: dayLabel(new Date(t), t1 - t0),
			}),
		);
	}
	svg.append(grid);
	svg.append(
		s('line', { class: 'chart-axis', x1: M.left, x2: M.left, y1: M.top, y2: M.top + ih }),
		s('line', { class: 'chart-axis', x1: M.left, x2: M.left + iw, y1: M.top + ih, y2: M.top + ih }),
		s('text', {
			class: 'chart-unit',
			x: 14,
			y: M.top + ih / 2,
			'text-anchor': 'middle',
			transform: `rotate(-90 14 ${M.top + ih / 2})`,
			text: `${opts.axis} (${unit.name})`,
		}),
		s('text', { class: 'chart-unit', x: M.left + iw / 2, y: H - 4, 'text-anchor': 'middle', text: 'run start (local time)' }),
	);
	const line = pts.map((p) => `${x(p.t.getTime()).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
	svg.append(s('polyline', { class: 'chart-line', points: line }));
	const dots = s('g', { class: 'chart-points' });
	for (const p of pts) {
		const ok = p.status === 'OK';
		dots.append(
			s(
				'circle',
				{
					cx: x(p.t.getTime()).toFixed(1),
					cy: y(p.v).toFixed(1),
					r: 4,
					class: ok ? 'pt-ok' : 'pt-bad',
				},
				s('title', { text: `${date(p.start)} — ${opts.format(p.v)} (${p.status || '?'})` }),
			),
		);
	}
	svg.append(dots);
	return svg;
}

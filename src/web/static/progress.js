/*
 * The live progress of a running backup (the API's "progress" object of a
 * job, or of each job of a run): a bar and one line of words, bytes moved,
 * percent, rate and ETA. Unknown parts are left out; with no percent the
 * bar is indeterminate.
 */
import { h } from './dom.js';
import * as fmt from './fmt.js';

/* "1.2 MiB of ~4.0 MiB, 3 files, 250 KiB/s, ETA 12 s" (unknown parts left out). */
export function progressWords(p) {
	const parts = [];
	parts.push(p.expected_bytes ? `${fmt.bytes(p.bytes)} of ~${fmt.bytes(p.expected_bytes)}` : fmt.bytes(p.bytes));
	if (p.files !== null && p.files !== undefined) parts.push(`${fmt.count(p.files)} file${p.files === 1 ? '' : 's'}`);
	if (p.rate_bps) parts.push(`${fmt.bytes(p.rate_bps)}/s`);
	if (p.eta_s !== null && p.eta_s !== undefined) parts.push(`ETA ${fmt.duration(p.eta_s)}`);
	return parts.join(', ');
}

/* The widget for progress object p, or null when p is null. */
export function progressBox(p) {
	if (!p) return null;
	const known = p.percent !== null && p.percent !== undefined;
	const fill = h('div', { class: `xfer-fill${known ? '' : ' xfer-unknown'}` });
	if (known) fill.style.width = `${Math.min(100, Math.max(0, Number(p.percent)))}%`; /* CSSOM: the CSP allows it */
	const bar = h(
		'div',
		{
			class: 'xfer-bar',
			role: 'progressbar',
			'aria-label': 'Transfer progress',
			'aria-valuemin': '0',
			'aria-valuemax': '100',
			'aria-valuenow': known ? String(p.percent) : null,
		},
		fill,
	);
	return h(
		'div',
		{ class: 'xfer', dataset: { progress: known ? String(p.percent) : '' }, title: p.updated ? `updated ${fmt.date(p.updated)}` : null },
		bar,
		h('span', { class: 'xfer-text' }, known ? h('strong', { text: `${p.percent} %` }) : null, known ? ' ' : null, progressWords(p)),
	);
}

/* Put the widget for p into el (replacing one already there), or remove it when p is null. */
export function showProgress(el, p) {
	const old = el.querySelector(':scope > .xfer');
	const box = progressBox(p);
	if (old && box) old.replaceWith(box);
	else if (old) old.remove();
	else if (box) el.append(box);
}

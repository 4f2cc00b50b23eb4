/*
 * DOM helpers. Every piece of data reaches the page as a text node (or an
 * attribute set with setAttribute); nothing here parses HTML, so a job
 * name or a log line can never become markup.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k === 'text') el.textContent = String(v);
		else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
		else if (k === 'dataset') Object.assign(el.dataset, v);
		else el.setAttribute(k, v === true ? '' : String(v));
	}
	for (const c of children.flat(Infinity)) {
		if (c === null || c === undefined || c === false) continue;
		el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return el;
}

/* h('a', {href: '#/', class: 'x'}, 'text', child...): an HTML element. */
export function h(tag, attrs, ...children) {
	return build(document.createElement(tag), attrs, children);
}

/* s('circle', {cx: 1}): an SVG element. */
export function s(tag, attrs, ...children) {
	return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/* Replace every child of el. */
export function replace(el, ...children) {
	el.replaceChildren();
	build(el, null, children);
	return el;
}

/* A transient message at the bottom of the page (role=status). */
export function toast(text, kind = 'info') {
	let box = document.getElementById('toasts');
	if (!box) {
		box = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
		document.body.append(box);
	}
	const t = h('div', { class: `toast toast-${kind}` }, text);
	box.append(t);
	setTimeout(() => t.remove(), kind === 'error' ? 10000 : 5000);
}

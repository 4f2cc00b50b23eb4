/*
 * Dashboard: the jobs of the current config grouped by type, with their
 * health, the last attempt and its result (a failed one is never green),
 * the age of the last good backup and sizes; failing jobs and groups
 * first; the counters by health are filters; a search box that filters by
 * job, server or target as you type; the config switcher; and (admins)
 * "Run now" / "Cleanup" buttons whose runs are shown live; a running
 * backup shows its transfer progress (bar, percent, rate, ETA), refreshed
 * every few seconds whoever started it (the queue, cron, a shell).
 */
import { api, isAdmin } from './api.js';
import { h, replace, toast } from './dom.js';
import * as fmt from './fmt.js';
import { cancelRun, launch, onRunChange, runFor } from './runs.js';
import { storagePanel } from './storage.js'; /* the storage section (disk usage, forecast) */
import { poolsNotice } from './pools.js'; /* worker pools without a live worker */
import { fleetPanel } from './fleet.js'; /* the catalog's jobs of other configurations */
import { progressBox, showProgress } from './progress.js'; /* live transfer progress */
import { verifyBadge } from './verify.js'; /* the "verified" badge (tisbackup verify) */

export const HEALTH = {
	ok: 'OK',
	warning: 'Warning',
	critical: 'Critical',
	running: 'Running',
	unknown: 'Unknown',
	nodata: 'No data',
};
const HEALTH_ORDER = ['critical', 'warning', 'running', 'unknown', 'ok', 'nodata'];

/* What the dashboard shows: a job that backs nothing up (null) has no data, never a green OK. */
export function healthOf(job) {
	return job.no_data ? 'nodata' : job.health || 'unknown';
}

let query = '';
/* The health the counters filter on ('' = every job). */
let healthFilter = '';

/* Sort rank of a health: failing first. */
const rank = (hl) => {
	const i = HEALTH_ORDER.indexOf(hl || 'unknown');
	return i < 0 ? HEALTH_ORDER.length : i;
};

/* When serve's scheduler starts the job next ("never" without a schedule). */
function nextRun(job) {
	if (job.next_run === undefined) return null;
	const never = !job.next_run || job.next_run === 'never';
	return h('span', { class: 'next-run muted', title: job.schedule ? `schedule = ${job.schedule}` : 'no schedule', text: `next: ${never ? 'never' : fmt.date(job.next_run)}` });
}

/* The last attempt: its result and when, the failure's log as a tooltip. */
function lastAttempt(job) {
	if (job.no_data) return h('span', { class: 'muted', text: 'no data' });
	if (!job.last_start) return h('span', { class: 'muted', text: 'never' });
	const when = fmt.date(job.last_start);
	if (job.last_attempt_failed) {
		return h(
			'span',
			{ class: 'attempt attempt-failed', title: job.last_error || job.health_message || '' },
			h('strong', { text: 'failed' }),
			' ',
			h('span', { class: 'when', text: when }),
			job.last_error ? h('span', { class: 'attempt-why', text: String(job.last_error).split('\n').slice(0, 2).join(' — ') }) : null,
		);
	}
	const st = job.last_status === 'Running' ? 'running' : job.last_status === 'OK' ? 'OK' : String(job.last_status || '?');
	return h('span', { class: `attempt attempt-${st === 'OK' ? 'ok' : 'other'}`, title: job.health_message || '' }, h('strong', { text: st }), ' ', h('span', { class: 'when', text: when }));
}

export function healthBadge(job) {
	const hl = HEALTH[healthOf(job)] ? healthOf(job) : 'unknown';
	const tip = job.no_data
		? 'records a server that needs no backup: nothing runs, nothing is kept'
		: job.age_hours === null || job.age_hours === undefined
			? 'no successful backup recorded'
			: `last good backup ${fmt.age(job.age_hours)}; maximum age ${job.maximum_backup_age ?? '?'} h`;
	return h('span', { class: `badge health-${hl}`, title: tip }, h('span', { class: 'dot', 'aria-hidden': 'true' }), HEALTH[hl]);
}

/* What a redraw of a run's badge depends on. */
export function runKey(run) {
	return `${run.id}:${run.state}:${run.cancel_requested ? 1 : 0}`;
}

/* The live state of a run, with a Cancel button for admins while it is active. */
export function runBadge(run) {
	if (!run) return null;
	const what = run.action === 'cleanup' ? 'cleanup' : 'backup';
	const stopping = run.cancel_requested && (run.state === 'queued' || run.state === 'running');
	const badge = h(
		'span',
		{ class: `badge run run-${run.state}`, dataset: { runState: run.state }, title: `run ${run.id}` },
		h('span', { class: 'spinner', 'aria-hidden': 'true' }),
		stopping ? `${what} cancelling` : `${what} ${run.state}`,
	);
	if (!isAdmin() || stopping || !(run.state === 'queued' || run.state === 'running') || !run.id) return badge;
	const btn = h(
		'button',
		{
			type: 'button',
			class: 'btn btn-small btn-cancel',
			'data-action': 'cancel',
			'aria-label': `Cancel the ${what} run ${run.id}`,
			onclick: async () => {
				if (!window.confirm(`Cancel the ${what} run ${run.id} of ${(run.sections || []).join(', ')}? What it did so far is discarded.`)) return;
				btn.disabled = true;
				try {
					await cancelRun(run.id);
					toast(`Cancel of run ${run.id} requested`);
				} catch (e) {
					btn.disabled = false;
					toast(`cancel: ${e.message}`, 'error');
				}
			},
		},
		'Cancel',
	);
	return h('span', { class: 'run-box' }, badge, btn);
}

/* The "Run now" / "Cleanup" buttons for a job (admins only), or null. */
export function runButtons(name, onDone) {
	if (!isAdmin()) return null;
	const busy = !!runFor(name);
	const go = (action) => async (ev) => {
		const btn = ev.currentTarget;
		if (action === 'cleanup' && !window.confirm(`Clean up ${name}? Backups older than its retention are deleted for good.`)) return;
		btn.disabled = true;
		try {
			const run = await launch(action, name);
			const ok = run.state === 'done';
			toast(`${action === 'backup' ? 'Backup' : 'Cleanup'} of ${name}: ${run.state}${run.error && run.error !== run.state ? ` — ${run.error}` : ''}`, ok ? 'ok' : 'error');
		} catch (e) {
			toast(`${action} of ${name}: ${e.message}`, 'error');
		} finally {
			btn.disabled = false;
			if (onDone) onDone();
		}
	};
	return h(
		'span',
		{ class: 'actions' },
		h('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-action': 'backup', disabled: busy, 'aria-label': `Run backup of ${name} now`, onclick: go('backup') }, 'Run now'),
		h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'cleanup', disabled: busy, 'aria-label': `Clean up old backups of ${name}`, onclick: go('cleanup') }, 'Cleanup'),
	);
}

function jobRow(job) {
	const run = runFor(job.name);
	const search = `${job.name} ${job.server_name || ''} ${job.target || ''}`.toLowerCase();
	return h(
		'tr',
		{ dataset: { job: job.name, health: healthOf(job), search } },
		h('td', { 'data-label': 'Status', class: 'cell-status' }, healthBadge(job), runBadge(run), progressBox(job.progress)),
		h('td', { 'data-label': 'Job', class: 'cell-name' }, h('a', { href: `#/job/${encodeURIComponent(job.name)}`, title: job.target ? `${job.server_name || ''} ${job.target}`.trim() : null, text: job.name })),
		h('td', { 'data-label': 'Server', text: job.server_name || '—' }),
		h('td', { 'data-label': 'Target', class: 'mono truncate', title: job.target || '', text: job.target || '—' }),
		h('td', { 'data-label': 'Last attempt', class: 'cell-attempt' }, lastAttempt(job), nextRun(job)),
		h('td', { 'data-label': 'Last good', title: job.last_ok_end ? fmt.date(job.last_ok_end) : '' }, fmt.age(job.age_hours), ' ', verifyBadge(job)),
		h('td', { 'data-label': 'Duration', class: 'num', text: fmt.duration(job.last_duration_s) }),
		h('td', { 'data-label': 'Written', class: 'num', text: fmt.bytes(job.last_written_bytes) }),
		h('td', { 'data-label': 'Size', class: 'num', text: fmt.bytes(job.last_total_bytes) }),
		isAdmin() ? h('td', { 'data-label': 'Actions', class: 'cell-actions' }, job.no_data ? null : runButtons(job.name)) : null,
	);
}

function groupTable(type, jobs) {
	return h(
		'section',
		{ class: 'group panel', dataset: { type } },
		h('h2', {}, type, h('span', { class: 'count', text: String(jobs.length) })),
		h(
			'table',
			{ class: 'jobs' },
			h(
				'thead',
				{},
				h(
					'tr',
					{},
					['Status', 'Job', 'Server', 'Target', 'Last attempt', 'Last good', 'Duration', 'Written', 'Size'].map((c) => h('th', { scope: 'col', text: c })),
					isAdmin() ? h('th', { scope: 'col', text: 'Actions' }) : null,
				),
			),
			h('tbody', {}, jobs.map(jobRow)),
		),
	);
}

/* The counters by health; each is a toggle that shows only its jobs. */
function summary(jobs, onFilter) {
	const n = {};
	for (const j of jobs) n[healthOf(j)] = (n[healthOf(j)] || 0) + 1;
	if (healthFilter && !n[healthFilter]) healthFilter = '';
	return h(
		'ul',
		{ class: 'summary', 'aria-label': 'Jobs by status (select to filter)' },
		HEALTH_ORDER.filter((k) => n[k]).map((k) =>
			h(
				'li',
				{},
				h(
					'button',
					{
						type: 'button',
						class: `chip chip-filter health-${k}`,
						dataset: { health: k },
						'aria-pressed': healthFilter === k ? 'true' : 'false',
						title: healthFilter === k ? 'Show every job' : `Show only the ${HEALTH[k]} jobs`,
						onclick: () => {
							healthFilter = healthFilter === k ? '' : k;
							onFilter();
						},
					},
					h('span', { class: 'dot', 'aria-hidden': 'true' }),
					h('strong', { text: String(n[k]) }),
					` ${HEALTH[k]}`,
				),
			),
		),
	);
}

/* Mark the pressed counter after a click, without a reload. */
function markFilter(root) {
	for (const b of root.querySelectorAll('button.chip-filter')) b.setAttribute('aria-pressed', b.dataset.health === healthFilter ? 'true' : 'false');
}

/* The backup filesystem as a bar: used share, free bytes, inodes, the checknagios limits. */
function filesystemBar(fs) {
	if (!fs) return null;
	const pct = Math.min(100, Math.max(0, Number(fs.used_percent)));
	const level = fs.crit_percent != null && pct >= fs.crit_percent ? 'critical' : fs.warn_percent != null && pct >= fs.warn_percent ? 'warning' : 'ok';
	const limits = [fs.warn_percent != null ? `warning at ${fs.warn_percent} %` : null, fs.crit_percent != null ? `critical at ${fs.crit_percent} %` : null].filter(Boolean).join(', ');
	const used = h('div', { class: `fs-used health-${level}` });
	used.style.width = `${pct.toFixed(1)}%`; /* CSSOM, not a style attribute: the CSP allows it */
	return h(
		'div',
		{ class: 'fs-box', id: 'filesystem' },
		h('div', { class: 'fs-text' }, h('span', { class: 'mono', text: fs.path }), ` ${fmt.bytes(fs.used_bytes)} used of ${fmt.bytes(fs.size_bytes)} (${pct.toFixed(1)} %), ${fmt.bytes(fs.free_bytes)} free, ${fmt.count(fs.free_inodes)} inodes free${limits ? ` — ${limits}` : ''}`),
		h('div', { class: 'fs-bar', role: 'meter', 'aria-label': 'Backup filesystem used', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': pct.toFixed(1) }, used),
	);
}

function applyFilter(root) {
	const q = query.trim().toLowerCase();
	let shown = 0;
	for (const g of root.querySelectorAll('section.group')) {
		let n = 0;
		for (const tr of g.querySelectorAll('tbody tr')) {
			const hit = (!q || tr.dataset.search.includes(q)) && (!healthFilter || tr.dataset.health === healthFilter);
			tr.hidden = !hit;
			if (hit) n++;
		}
		g.hidden = n === 0;
		shown += n;
	}
	const empty = root.querySelector('.no-match');
	if (empty) empty.hidden = shown > 0;
	const status = root.querySelector('#search-status');
	if (status) status.textContent = q || healthFilter ? `${shown} job${shown === 1 ? '' : 's'} shown` : '';
}

function configSwitcher(cfg, reload) {
	if (!cfg || !cfg.configs || cfg.configs.length < 2) return null;
	const sel = h(
		'select',
		{
			id: 'config-select',
			onchange: async () => {
				try {
					await api('/api/v1/configs/current', { method: 'POST', body: { config_number: Number(sel.value) } });
					await reload();
				} catch (e) {
					toast(`switching config: ${e.message}`, 'error');
				}
			},
		},
		cfg.configs.map((p, i) => h('option', { value: String(i), selected: i === cfg.current, title: p, text: p.split('/').pop() })),
	);
	return h('div', { class: 'field' }, h('label', { for: 'config-select', text: 'Configuration' }), sel);
}

/* The banner of configs whose last (re)load failed (serve keeps their previous version). */
function configBanner(el, health) {
	const errs = (health && health.config_errors) || [];
	el.hidden = errs.length === 0;
	replace(
		el,
		errs.map((e) =>
			h(
				'div',
				{},
				h('strong', { text: `${e.config}: ` }),
				e.previous_kept ? 'the file has errors; the previous version stays in use until it is fixed.' : 'the file has errors and is not in use.',
				h('pre', { class: 'mono', text: e.error }),
			),
		),
	);
}

export async function render(main) {
	let cfg = null;
	const list = h('div', { class: 'groups' });
	const head = h('div', { class: 'toolbar' });
	const sum = h('div', { class: 'summary-box' });
	const banner = h('div', { id: 'config-errors', class: 'notice notice-error', role: 'alert', hidden: true });
	const pools = poolsNotice(); /* pools.js: a pool nobody serves */
	const reloaded = h('div', { id: 'config-reloaded', class: 'notice notice-ok', role: 'status', hidden: true });
	let reloads = null; /* serve's count of config reloads, as last seen */
	const search = h('input', {
		type: 'search',
		id: 'job-search',
		placeholder: 'Job, server or folder…',
		autocomplete: 'off',
		value: query,
		oninput: () => {
			query = search.value;
			applyFilter(list);
		},
	});

	async function load() {
		const [jobs, c, health] = await Promise.all([api('/api/v1/jobs'), api('/api/v1/configs').catch(() => null), api('/api/v1/health').catch(() => null)]);
		cfg = c;
		configBanner(banner, health);
		pools.refresh();
		if (health && typeof health.config_reloads === 'number') reloads = health.config_reloads;
		const items = jobs.items || [];
		const byType = new Map();
		/* Failing jobs first, then by name; groups by their worst job. */
		for (const j of [...items].sort((a, b) => rank(healthOf(a)) - rank(healthOf(b)) || a.name.localeCompare(b.name))) {
			if (!byType.has(j.type)) byType.set(j.type, []);
			byType.get(j.type).push(j);
		}
		const types = [...byType.keys()].sort((a, b) => rank(healthOf(byType.get(a)[0])) - rank(healthOf(byType.get(b)[0])) || a.localeCompare(b));
		const refilter = () => {
			markFilter(sum);
			applyFilter(list);
		};
		replace(sum, summary(items, refilter), filesystemBar(jobs.filesystem));
		replace(
			head,
			h('div', { class: 'title' }, h('h1', { text: 'Backup jobs' }), h('span', { class: 'muted', text: `${items.length} job${items.length === 1 ? '' : 's'}` })),
			h('div', { class: 'tools' }, configSwitcher(cfg, load), h('div', { class: 'field search' }, h('label', { for: 'job-search', text: 'Search' }), search, h('span', { id: 'search-status', class: 'sr-only', 'aria-live': 'polite' }))),
		);
		replace(
			list,
			items.length === 0 ? h('div', { class: 'panel empty', text: 'This configuration has no jobs.' }) : types.map((t) => groupTable(t, byType.get(t))),
			h('div', { class: 'panel empty no-match', hidden: true, text: 'No job matches the search.' }),
		);
		applyFilter(list);
	}

	async function refreshJob(name) {
		try {
			const j = await api(`/api/v1/jobs/${encodeURIComponent(name)}`);
			const old = list.querySelector(`tr[data-job="${CSS.escape(name)}"]`);
			if (old) {
				const row = jobRow(j);
				old.replaceWith(row);
				applyFilter(list);
			}
		} catch {
			/* the next periodic refresh will tell */
		}
	}

	await load();
	const storage = storagePanel(); /* its own section, below the jobs */
	storage.load().catch(() => {});
	const fleet = fleetPanel();
	fleet.load().catch(() => {});
	replace(main, head, banner, reloaded, pools.el, sum, list, storage.el, fleet.el);

	const off = onRunChange((run, finished) => {
		for (const name of run.sections || []) {
			if (finished) refreshJob(name);
			else {
				const tr = list.querySelector(`tr[data-job="${CSS.escape(name)}"]`);
				if (!tr) continue;
				const cell = tr.querySelector('.cell-status');
				const key = runKey(run);
				if (run.progress && name in run.progress) showProgress(cell, run.progress[name]);
				if (cell.dataset.runKey === key) continue;
				cell.dataset.runKey = key;
				cell.querySelector('.run-box')?.remove();
				cell.querySelector('.run')?.remove();
				const xfer = cell.querySelector('.xfer');
				if (xfer) xfer.before(runBadge(run));
				else cell.append(runBadge(run));
				for (const b of tr.querySelectorAll('.cell-actions button')) b.disabled = true;
			}
		}
	});
	const timer = setInterval(() => {
		if (document.visibilityState === 'visible' && document.activeElement !== search) load().catch(() => {});
		if (document.visibilityState === 'visible') storage.load().catch(() => {});
	}, 30000);
	/*
	 * serve reloads its configs on SIGHUP and when the files change: every
	 * 5 s, show a broken file's errors at once, and after a reload the new
	 * jobs, with a notice saying so.
	 */
	const watch = setInterval(async () => {
		if (document.visibilityState !== 'visible') return;
		let health;
		try {
			health = await api('/api/v1/health');
		} catch {
			return;
		}
		configBanner(banner, health);
		if (typeof health.config_reloads !== 'number' || reloads === null || health.config_reloads === reloads) return;
		reloads = health.config_reloads;
		await load().catch(() => {});
		/* A broken file: its banner says what happened, not "reloaded". */
		if ((health.config_errors || []).length > 0) {
			reloaded.hidden = true;
			return;
		}
		const at = new Date();
		replace(reloaded, h('strong', { text: 'Configuration reloaded' }), ` at ${fmt.date(at)}: the list shows its jobs now.`);
		reloaded.hidden = false;
	}, 5000);
	/* Running jobs (from the queue, cron or a shell): their progress every 3 s. */
	const live = setInterval(() => {
		if (document.visibilityState !== 'visible') return;
		for (const tr of list.querySelectorAll('tr[data-health="running"]')) refreshJob(tr.dataset.job);
	}, 3000);
	return () => {
		off();
		clearInterval(timer);
		clearInterval(live);
		clearInterval(watch);
	};
}

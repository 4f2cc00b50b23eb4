/*
 * Runs started from the UI (or already active when a page opens), by job:
 * the dashboard and the job page show their state live and refresh the
 * job when the run ends. One poller per run, whatever the views.
 */
import { api, followRun, startRun } from './api.js';

const byJob = new Map(); /* job name -> run object (latest known state) */
const following = new Set(); /* run ids being polled */
const listeners = new Set();

function notify(run, finished) {
	for (const fn of listeners) fn(run, finished);
}

function record(run) {
	for (const name of run.sections || []) byJob.set(name, run);
	notify(run, false);
}

function settle(run) {
	for (const name of run.sections || []) if (byJob.get(name)?.id === run.id) byJob.delete(name);
	following.delete(run.id);
	notify(run, true);
}

/* The active run touching job name, or undefined. */
export function runFor(name) {
	return byJob.get(name);
}

/* fn(run, finished) on every state change; returns the unsubscribe function. */
export function onRunChange(fn) {
	listeners.add(fn);
	return () => listeners.delete(fn);
}

/* Start action ('backup'|'cleanup') on one job; resolves with the final run. */
export async function launch(action, name) {
	let id = null;
	const final = await startRun({ action, sections: [name] }, (run) => {
		id = run.id;
		following.add(id);
		record({ ...run, action, sections: run.sections || [name] });
	});
	settle({ ...final, sections: final.sections || [name] });
	return final;
}

/* Ask the server to cancel run id (admins); the poller sees it end. */
export async function cancelRun(id) {
	return api(`/api/v1/runs/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

/* Pick up the backup/cleanup runs already queued or running (once per page). */
export async function loadActive() {
	let data;
	try {
		data = await api('/api/v1/runs?active=1&limit=100');
	} catch {
		return;
	}
	for (const run of data.items || []) {
		if (run.action !== 'backup' && run.action !== 'cleanup') continue;
		if (following.has(run.id)) continue;
		following.add(run.id);
		record(run);
		followRun(run.id, (r) => record({ ...r, sections: r.sections || run.sections }))
			.then((r) => settle({ ...r, sections: r.sections || run.sections }))
			.catch(() => settle({ ...run, state: 'unknown' }));
	}
}

/*
 * The "verified" badge of a job (tisbackup verify, docs/restore.md), from
 * the API's last_verify {end, result, age_hours} (docs/web-api.md): green
 * "verified <age>", amber "verified <age>, warnings" (the dump loaded
 * but a table shrank or disappeared), red "verify failed"; nothing when
 * the job was never verified. The row's end date is the tooltip.
 */
import { h } from './dom.js';
import * as fmt from './fmt.js';

export function verifyBadge(job) {
	const v = job && job.last_verify;
	if (!v) return null;
	const when = v.end ? `last verify ${fmt.date(v.end)}` : 'last verify';
	if (v.result === 'failed') {
		return h('span', { class: 'badge verify verify-failed health-critical', title: `${when}: failed (see the VERIFY row of the job)` }, 'verify failed');
	}
	const age = fmt.age(v.age_hours).replace(/ ago$/, '');
	const warn = v.result === 'warning';
	return h(
		'span',
		{ class: `badge verify verify-${warn ? 'warning' : 'ok'} health-${warn ? 'warning' : 'ok'}`, title: `${when}${warn ? ': passed with warnings' : ': passed'}` },
		`verified ${age}${warn ? ', warnings' : ''}`,
	);
}

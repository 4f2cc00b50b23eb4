/*
 * The dashboard's fleet section (GET /api/v1/fleet): the jobs the catalog
 * knows that this configuration does not have (other hosts' jobs, with a
 * shared PostgreSQL catalog), with their last backup, the host (and queue
 * worker, when queued) that ran it and its configuration file. Hidden when there are none. Its own piece: dashboard.js
 * only places it and calls load().
 */
import { api } from './api.js';
import { h, replace } from './dom.js';
import * as fmt from './fmt.js';

export function fleetPanel() {
	const body = h('div', {});
	const el = h('section', { class: 'panel', id: 'fleet', 'aria-labelledby': 'fleet-title', hidden: true }, h('h2', { id: 'fleet-title', text: 'Other jobs in the catalog' }), body);
	async function load() {
		const others = ((await api('/api/v1/fleet')).items || []).filter((j) => !j.in_config);
		el.hidden = others.length === 0;
		replace(
			body,
			h('p', { class: 'muted', text: 'Jobs of other configurations writing to this catalog (docs/scale-out.md).' }),
			h(
				'table',
				{ class: 'su-table' },
				h('thead', {}, h('tr', {}, h('th', { text: 'Job' }), h('th', { text: 'Server' }), h('th', { text: 'Last status' }), h('th', { text: 'Last backup' }), h('th', { text: 'Host' }), h('th', { text: 'Worker' }), h('th', { text: 'Config' }))),
				h(
					'tbody',
					{},
					others.map((j) =>
						h(
							'tr',
							{ 'data-fleet-job': j.name },
							h('td', { text: j.name }),
							h('td', { text: j.server_name || '—' }),
							h('td', { text: j.last_status || '—' }),
							h('td', { text: j.last_backup_end ? fmt.date(j.last_backup_end) : '—' }),
							h('td', { class: 'mono', 'data-fleet-host': '', text: j.host || '—' }),
							h('td', { class: 'mono', text: j.worker ? `${j.worker}${j.worker_pool ? ` (${j.worker_pool})` : ''}` : '—' }),
							h('td', { class: 'mono', text: j.config || '—' }),
						),
					),
				),
			),
		);
	}
	return { el, load };
}

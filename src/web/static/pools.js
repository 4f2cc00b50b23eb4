/*
 * The dashboard's worker-pool notice (GET /api/v1/pools): a pool that has
 * jobs or queued runs but no live worker is named, since its runs wait
 * until a `tisbackup worker --pool NAME` serves it. Hidden otherwise.
 * Its own piece: dashboard.js only places it and calls refresh().
 */
import { api } from './api.js';
import { h, replace } from './dom.js';

export function poolsNotice() {
	const el = h('div', { id: 'pool-notice', class: 'notice notice-error', role: 'status', hidden: true });
	async function refresh() {
		let pools;
		try {
			pools = (await api('/api/v1/pools')).items || [];
		} catch {
			el.hidden = true; /* the queue's own state is in the health banner */
			return;
		}
		const idle = pools.filter((p) => p.workers === 0 && (p.jobs > 0 || p.queued > 0));
		el.hidden = idle.length === 0;
		replace(
			el,
			idle.map((p) =>
				h(
					'div',
					{ class: 'pool-idle', 'data-pool': p.pool },
					h('strong', { text: `Pool ${p.pool}: ` }),
					`no live worker (${p.jobs} job${p.jobs === 1 ? '' : 's'}, ${p.queued} queued run${p.queued === 1 ? '' : 's'} waiting). Start `,
					h('code', { text: `tisbackup worker --pool ${p.pool}` }),
					' on the host that holds its backups.',
				),
			),
		);
	}
	return { el, refresh };
}

import { html, render } from 'htm/preact';
import {
  type ClusterView,
  emptyView,
  type Unit,
  type UnitState,
  unitCounts,
  unitFile,
} from './cluster-view.js';
import { type Connection, followEvents } from './event-stream.js';
import {
  actOnMachine,
  actOnUnit,
  type Cordon,
  listCordons,
  listRollouts,
  type MachineAction,
  type Rollout,
  readReport,
  type UnitAction,
} from './fleet-api.js';

interface Pending {
  label: string;
  run: () => Promise<void>;
}

/** Everything on the page; the token lives here only, never in storage or cookies. */
const page = {
  token: '',
  view: emptyView() as ClusterView,
  connection: null as Connection | null,
  cordons: new Map<string, Cordon>(),
  rollouts: [] as Rollout[],
  filters: { name: '', state: '', machine: '' },
  selected: null as string | null,
  status: '',
  journal: '',
  reportAbort: null as AbortController | null,
  pending: null as Pending | null,
  outcome: '',
  stop: null as (() => void) | null,
};

const root = document.getElementById('app')!;
const rerender = () => render(html`<${App} />`, root);

/** Cordons and rollouts are not on the event stream: read again when what drives them moves. */
let refreshQueued = false;
function refreshExtensions(): void {
  if (refreshQueued) return;
  refreshQueued = true;
  queueMicrotask(async () => {
    refreshQueued = false;
    const token = page.token;
    const [cordons, rollouts] = await Promise.allSettled([listCordons(token), listRollouts(token)]);
    if (cordons.status === 'fulfilled') page.cordons = new Map(cordons.value.map((c) => [c.id, c]));
    if (rollouts.status === 'fulfilled') page.rollouts = rollouts.value;
    rerender();
  });
}

function connect(token: string): void {
  page.stop?.();
  page.token = token;
  page.stop = followEvents(token, {
    onView: (view, changed) => {
      page.view = view;
      refreshExtensions();
      if (page.selected !== null && changed.has(`state:${page.selected}`)) {
        void loadStatus(page.selected);
      }
      rerender();
    },
    onConnection: (connection) => {
      page.connection = connection;
      if (connection.kind === 'live') refreshExtensions();
      rerender();
    },
  });
}

async function loadStatus(name: string): Promise<void> {
  let text = '';
  try {
    await readReport(page.token, reportPath(name, 'status'), new AbortController().signal, (t) => {
      text += t;
    });
  } catch (err) {
    text = `Status not available: ${messageOf(err)}`;
  }
  if (page.selected === name) {
    page.status = text;
    rerender();
  }
}

function select(name: string): void {
  page.reportAbort?.abort();
  page.selected = name;
  page.status = '';
  page.journal = '';
  const abort = new AbortController();
  page.reportAbort = abort;
  void loadStatus(name);
  readReport(
    page.token,
    `${reportPath(name, 'journal')}?lines=20&follow=true`,
    abort.signal,
    (t) => {
      page.journal += t;
      rerender();
    },
  ).catch((err: unknown) => {
    if (!abort.signal.aborted) {
      page.journal += `\n[journal not available: ${messageOf(err)}]`;
      rerender();
    }
  });
  rerender();
}

function reportPath(name: string, report: 'status' | 'journal'): string {
  return `/fleet/ext/v1/units/${encodeURIComponent(name)}/${report}`;
}

function ask(label: string, run: () => Promise<void>): void {
  page.pending = { label, run };
  page.outcome = '';
  rerender();
  const dialog = document.getElementById('confirm') as HTMLDialogElement | null;
  if (dialog !== null && !dialog.open) dialog.showModal();
}

async function confirmPending(): Promise<void> {
  const pending = page.pending;
  (document.getElementById('confirm') as HTMLDialogElement | null)?.close();
  page.pending = null;
  if (pending === null) return;
  try {
    await pending.run();
    page.outcome = `Done: ${pending.label}.`;
  } catch (err) {
    page.outcome = `Refused: ${pending.label}: ${messageOf(err)}`;
  }
  refreshExtensions();
  rerender();
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function App() {
  if (page.token === '') return html`<${TokenForm} />`;
  return html`
    <header>
      <h1>fleet</h1>
      <${ConnectionStatus} />
      <button type="button" onClick=${forgetToken}>Forget token</button>
    </header>
    <p role="status" aria-live="polite" id="outcome">${page.outcome}</p>
    <main>
      <${Machines} />
      <${Units} />
      <${UnitDetail} />
      <${Rollouts} />
    </main>
    <${ConfirmDialog} />
  `;
}

function forgetToken(): void {
  page.stop?.();
  page.reportAbort?.abort();
  page.token = '';
  page.view = emptyView();
  page.selected = null;
  rerender();
}

function TokenForm() {
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const input = (event.currentTarget as HTMLFormElement).elements.namedItem('token');
    const token = (input as HTMLInputElement).value.trim();
    if (token !== '') connect(token);
    rerender();
  };
  return html`
    <main>
      <h1>fleet</h1>
      <form onSubmit=${submit} aria-labelledby="token-heading">
        <h2 id="token-heading">Sign in with an API token</h2>
        <p>The token stays in this tab's memory: it is sent to this fleetd only, as <code>Authorization: Bearer</code>.</p>
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="off" required />
        <button type="submit">Connect</button>
      </form>
    </main>
  `;
}

function ConnectionStatus() {
  const c = page.connection;
  const text =
    c === null || c.kind === 'connecting'
      ? 'Connecting to fleetd…'
      : c.kind === 'live'
        ? 'Live: following fleetd’s events.'
        : c.kind === 'lost'
          ? `Connection to fleetd lost (${c.reason}). Reconnecting in ${c.retryInSeconds} s…`
          : `fleetd refused the token (${c.reason}).`;
  return html`<p id="connection" role="status" aria-live="polite" data-state=${c?.kind ?? 'connecting'}><strong>${text}</strong></p>`;
}

function Machines() {
  const counts = unitCounts(page.view);
  const machines = [...page.view.machines.values()].sort((a, b) => a.id.localeCompare(b.id));
  const action = (id: string, act: MachineAction) => () =>
    ask(`${act} machine ${id}`, () => actOnMachine(page.token, id, act));
  return html`
    <section aria-labelledby="machines-heading">
      <h2 id="machines-heading">Machines (${machines.length})</h2>
      <table id="machines">
        <thead><tr><th scope="col">ID</th><th scope="col">IP</th><th scope="col">Metadata</th><th scope="col">Units</th><th scope="col">Cordon</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          ${machines.map((m) => {
            const cordon = page.cordons.get(m.id);
            const cordonText =
              cordon === undefined || !cordon.cordoned
                ? 'not cordoned'
                : cordon.drain === null
                  ? 'cordoned'
                  : `draining: ${cordon.drain.done ? 'done' : `${cordon.drain.moving.length} moving, ${cordon.drain.moved.length} moved`}`;
            return html`
              <tr key=${m.id} data-machine=${m.id}>
                <th scope="row"><code>${m.id}</code></th>
                <td>${m.primaryIP ?? ''}</td>
                <td>${Object.entries(m.metadata ?? {})
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ')}</td>
                <td>${counts.get(m.id) ?? 0}</td>
                <td>${cordonText}</td>
                <td>
                  ${
                    cordon?.cordoned
                      ? html`<button type="button" aria-label=${`Uncordon ${m.id}`} onClick=${action(m.id, 'uncordon')}>Uncordon</button>`
                      : html`<button type="button" aria-label=${`Cordon ${m.id}`} onClick=${action(m.id, 'cordon')}>Cordon</button>`
                  }
                  <button type="button" aria-label=${`Drain ${m.id}`} onClick=${action(m.id, 'drain')}>Drain</button>
                </td>
              </tr>`;
          })}
        </tbody>
      </table>
    </section>
  `;
}

function firstState(name: string): UnitState | undefined {
  return page.view.states.get(name)?.values().next().value;
}

function matches(unit: Unit): boolean {
  const { name, state, machine } = page.filters;
  if (name !== '' && !unit.name.includes(name)) return false;
  if (state !== '' && unit.desiredState !== state && unit.currentState !== state) {
    if (firstState(unit.name)?.systemdActiveState !== state) return false;
  }
  if (
    machine !== '' &&
    unit.machineID !== machine &&
    !page.view.states.get(unit.name)?.has(machine)
  ) {
    return false;
  }
  return true;
}

function Units() {
  const units = [...page.view.units.values()].sort((a, b) => a.name.localeCompare(b.name));
  const shown = units.filter(matches);
  const setFilter = (key: keyof typeof page.filters) => (event: Event) => {
    page.filters[key] = (event.currentTarget as HTMLInputElement).value;
    rerender();
  };
  const action = (name: string, act: UnitAction) => () =>
    ask(`${act} unit ${name}`, () => actOnUnit(page.token, name, act));
  return html`
    <section aria-labelledby="units-heading">
      <h2 id="units-heading">Units (${shown.length} of ${units.length})</h2>
      <form role="search" onSubmit=${(e: Event) => e.preventDefault()}>
        <label>Name contains <input id="filter-name" type="search" value=${page.filters.name} onInput=${setFilter('name')} /></label>
        <label>State
          <select id="filter-state" value=${page.filters.state} onChange=${setFilter('state')}>
            <option value="">any</option>
            ${['launched', 'loaded', 'inactive', 'active', 'failed'].map((s) => html`<option value=${s}>${s}</option>`)}
          </select>
        </label>
        <label>Machine
          <select id="filter-machine" value=${page.filters.machine} onChange=${setFilter('machine')}>
            <option value="">any</option>
            ${[...page.view.machines.keys()].sort().map((id) => html`<option value=${id}>${id}</option>`)}
          </select>
        </label>
      </form>
      <table id="units">
        <thead><tr><th scope="col">Unit</th><th scope="col">Desired</th><th scope="col">Current</th><th scope="col">Machine</th><th scope="col">Active</th><th scope="col">Sub</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          ${shown.map((u) => {
            const state = firstState(u.name);
            const machine = u.machineID ?? state?.machineID ?? '';
            const ip = page.view.machines.get(machine)?.primaryIP;
            return html`
              <tr key=${u.name} data-unit=${u.name}>
                <th scope="row"><button type="button" class="link" aria-pressed=${page.selected === u.name} onClick=${() => select(u.name)}>${u.name}</button></th>
                <td>${u.desiredState}</td>
                <td>${u.currentState ?? '-'}</td>
                <td>${machine === '' ? '-' : `${machine.slice(0, 8)}${ip ? `/${ip}` : ''}`}</td>
                <td data-field="active">${state?.systemdActiveState ?? '-'}</td>
                <td>${state?.systemdSubState ?? '-'}</td>
                <td>
                  ${(['start', 'stop', 'unload', 'destroy'] as const).map(
                    (act) =>
                      html`<button type="button" data-action=${act} aria-label=${`${act} ${u.name}`} onClick=${action(u.name, act)}>${act[0]?.toUpperCase()}${act.slice(1)}</button> `,
                  )}
                </td>
              </tr>`;
          })}
        </tbody>
      </table>
    </section>
  `;
}

function UnitDetail() {
  const name = page.selected;
  if (name === null) return null;
  const unit = page.view.units.get(name);
  return html`
    <section aria-labelledby="unit-heading" id="unit-detail">
      <h2 id="unit-heading">Unit ${name}</h2>
      ${unit === undefined ? html`<p>This unit no longer exists.</p>` : null}
      <h3>File</h3>
      <pre>${unit === undefined ? '' : unitFile(unit.options)}</pre>
      <h3>Status</h3>
      <pre id="unit-status">${page.status}</pre>
      <h3>Journal (following)</h3>
      <pre id="unit-journal" aria-live="off">${page.journal}</pre>
    </section>
  `;
}

function Rollouts() {
  return html`
    <section aria-labelledby="rollouts-heading">
      <h2 id="rollouts-heading">Rollouts (${page.rollouts.length})</h2>
      ${
        page.rollouts.length === 0
          ? html`<p>No rollouts.</p>`
          : html`<ul id="rollouts">
            ${page.rollouts.map((r) => {
              const healthy = r.steps.filter((s) => s.phase === 'healthy').length;
              return html`<li key=${r.id}>
                <code>${r.id}</code> ${r.units.map((u) => u.name).join(', ')}: <strong>${r.status}</strong>,
                ${healthy} of ${r.steps.length} steps healthy
                <progress max=${r.steps.length} value=${healthy}>${healthy}/${r.steps.length}</progress>
                ${r.message ? html`<br />${r.message}` : null}
              </li>`;
            })}
          </ul>`
      }
    </section>
  `;
}

function ConfirmDialog() {
  return html`
    <dialog id="confirm" aria-labelledby="confirm-heading" onClose=${() => {
      page.pending = null;
    }}>
      <form method="dialog">
        <h2 id="confirm-heading">Confirm</h2>
        <p>${page.pending === null ? '' : `Really ${page.pending.label}?`}</p>
        <button type="button" id="confirm-yes" onClick=${() => void confirmPending()}>Yes, do it</button>
        <button type="submit" value="cancel" autofocus>Cancel</button>
      </form>
    </dialog>
  `;
}

rerender();

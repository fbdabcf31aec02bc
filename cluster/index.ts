// A fleet cluster on the functional harness. See docs/cluster.md.
export {
  ApiError,
  type ApiResponse,
  apiRequest,
  fleetClient,
  listAll,
  listMachines,
  listUnitStates,
  listUnits,
  type WaitOptions,
  waitFor,
} from './api.js';
export { ensureFreshBuild, staleSources } from './build.js';
export {
  Cluster,
  ClusterMachine,
  type ClusterOptions,
  conformanceOptions,
  type JournalOptions,
  type MachineSpec,
  type Where,
} from './cluster.js';
export { EtcdMembers } from './etcd-members.js';
export {
  apiEndpoint,
  apiSocketPath,
  FLEET_CONF,
  FLEET_PEER_PORT,
  FLEET_SOCKET,
  FLEET_TCP_PORT,
  renderDropIn,
  renderFleetConf,
  renderTcpSocket,
} from './fleet-units.js';
export {
  installSsh,
  processRunning,
  regenerateHostKeys,
  SSH_UID,
  SSH_USER,
  SshAgent,
  type SshOptions,
  setAuthorizedKeys,
} from './ssh.js';
export {
  activeEverywhere,
  loadedUnits,
  placement,
  type UnitEvent,
  type UnitRun,
  unitEvents,
  unitRuns,
} from './systemd-view.js';

// The agent's UnitManager: the only code in the project that knows D-Bus. See docs/systemd.md.
export {
  type FakeCall,
  type FakeMethod,
  FakeUnitManager,
  type FakeUnitManagerOptions,
} from './fake-unit-manager.js';
export { hasInstallSection } from './install-section.js';
export {
  DBusClosedError,
  DBusTimeoutError,
  isNoSuchUnit,
  SystemdError,
} from './systemd-error.js';
export {
  createSystemdUnitManager,
  type SystemdUnitManagerOptions,
} from './systemd-unit-manager.js';
export { type SystemdUnitState, UNKNOWN_UNIT_STATE, type UnitManager } from './unit-manager.js';

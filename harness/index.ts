// The functional-test harness: real systemd machines on this host. See docs/harness.md.

export {
  type EtcdClusterOptions,
  type EtcdMemberStatus,
  etcdctlIn,
  etcdMemberStatus,
  startEtcdCluster,
} from './etcd-cluster.js';
export {
  BOOT_TARGET,
  type BootOptions,
  type BootStatus,
  bootMachine,
  exec,
  execOk,
  isMachineAlive,
  journal,
  kill,
  listFailedUnits,
  nsenterArgv,
  poweroff,
  REPO_ROOT,
  randomMachineId,
  waitForBoot,
  writeMachineFile,
} from './machine.js';
export {
  type CreateNetworkOptions,
  createNetwork,
  destroyNetwork,
  type EtcdOptions,
  harnessUnavailable,
  runInNamespace,
  SUBNET_PREFIX,
  spawnInNamespace,
  startEtcdInNamespace,
} from './network.js';
export { CommandError, type RunOptions, type RunResult } from './proc.js';
export { isClean, type Leftovers, leftovers, teardown } from './state.js';
export type { EtcdMember, EtcdServer, ExecOptions, Machine, Network } from './types.js';

// The recorded transcripts of the original fleet, replayed against our fleetd on real
// systemd machines in the topology they were recorded on (r1, r2, r3; public IP 127.0.0.1).
// Each transcript starts from an empty cluster, so each gets a cluster of its own.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Cluster, conformanceOptions, ensureFreshBuild } from '../../cluster/index.js';
import { harnessUnavailable } from '../../harness/index.js';
import {
  formatReport,
  machinesByName,
  replayGolden as replayApi,
} from '../../test/api/golden-replay.js';
import {
  discoverMachines,
  loadGolden,
  replayGolden as replayFleetctl,
  THROUGH_FLEET_DEVIATIONS,
} from '../../test/fleetctl/golden-replay.js';
import { expectNoLeftovers } from '../fleetd/units.js';

const unavailable = harnessUnavailable();
const FLEETCTL = join(import.meta.dirname, '../../bin/fleetctl');

/** Where we answer differently on purpose (test/fixtures/conformance/README.md, docs/api-v1.md). */
const API_DEVIATIONS = ['units-put-create-invalid-desired-state'];

/** A fresh cluster of the recorded topology for `run`, torn down whatever happens. */
async function withConformanceCluster(run: (cluster: Cluster) => Promise<void>): Promise<void> {
  const cluster = await Cluster.start(conformanceOptions());
  try {
    await run(cluster);
  } finally {
    await cluster.destroy();
  }
}

describe.skipIf(unavailable !== undefined)('conformance transcripts on real machines', () => {
  beforeAll(async () => {
    await ensureFreshBuild();
  });

  it('answers every step of the recorded API transcript as the original did', async () => {
    await withConformanceCluster(async (cluster) => {
      const baseUrl = cluster.apiMachine('r1').endpoint;
      const machines = await machinesByName(baseUrl);
      expect(Object.keys(machines).sort()).toEqual(['r1', 'r2', 'r3']);
      const results = await replayApi({ baseUrl, machines, maxWaitMs: 120_000 });
      const report = formatReport(results);
      const failed = results.filter((result) => result.outcome === 'fail');
      const deviations = results.filter((result) => result.outcome === 'deviation');
      expect(
        failed.map((result) => result.id),
        report,
      ).toEqual([]);
      expect(
        deviations.map((result) => result.id),
        report,
      ).toEqual(API_DEVIATIONS);
    });
  }, 600_000);

  it('gives the recorded output and exit code for every step of the fleetctl transcript', async () => {
    await withConformanceCluster(async (cluster) => {
      const endpoint = cluster.apiMachine('r1').endpoint;
      const outcomes = await replayFleetctl({
        fleetctl: `${process.execPath} ${FLEETCTL} --endpoint ${endpoint} --driver API`,
        machines: await discoverMachines(endpoint),
        api: endpoint,
        defaultTimeoutMs: 60_000,
        // Every mode of the cluster gives the fleetds peer certificates, so fleet serves
        // the status of a unit on another machine to a fleetctl without ssh-agent.
        deviations: THROUGH_FLEET_DEVIATIONS,
      });
      const failed = outcomes.filter((outcome) => !outcome.passed);
      expect(failed.map(({ id, detail }) => `${id}: ${detail}`)).toEqual([]);
      expect(outcomes.filter((outcome) => outcome.deviated).map(({ id }) => id)).toEqual(
        Object.keys(THROUGH_FLEET_DEVIATIONS),
      );
      expect(outcomes).toHaveLength(loadGolden().steps.length);
    });
  }, 900_000);

  it('leaves no process, mount, namespace or cgroup behind', () => {
    expectNoLeftovers();
  });
});

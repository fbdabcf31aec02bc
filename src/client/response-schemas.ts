import { z } from 'zod';
import type { ApiMachine, ApiUnit, ApiUnitOption, ApiUnitState } from '../api/schema.js';

/**
 * The API's answers as fleetctl reads them. Every field is `omitempty` on the wire, so an
 * absent string is an empty one; unknown members are ignored, as Go's decoder ignored them.
 */

const text = z.string().optional();

const unitOptionSchema = z.object({ name: text, section: text, value: text }).transform(
  (option): ApiUnitOption => ({
    name: option.name ?? '',
    section: option.section ?? '',
    value: option.value ?? '',
  }),
);

export const unitSchema = z
  .object({
    currentState: text,
    desiredState: text,
    machineID: text,
    name: text,
    options: z.array(unitOptionSchema).optional(),
  })
  .transform(
    (unit): ApiUnit => ({
      ...(unit.currentState !== undefined && { currentState: unit.currentState }),
      ...(unit.desiredState !== undefined && { desiredState: unit.desiredState }),
      ...(unit.machineID !== undefined && { machineID: unit.machineID }),
      name: unit.name ?? '',
      ...(unit.options !== undefined && { options: unit.options }),
    }),
  );

export const unitStateSchema = z
  .object({
    hash: text,
    machineID: text,
    name: text,
    systemdActiveState: text,
    systemdLoadState: text,
    systemdSubState: text,
  })
  .transform(
    (state): ApiUnitState => ({
      ...(state.hash !== undefined && { hash: state.hash }),
      ...(state.machineID !== undefined && { machineID: state.machineID }),
      name: state.name ?? '',
      ...(state.systemdActiveState !== undefined && {
        systemdActiveState: state.systemdActiveState,
      }),
      ...(state.systemdLoadState !== undefined && { systemdLoadState: state.systemdLoadState }),
      ...(state.systemdSubState !== undefined && { systemdSubState: state.systemdSubState }),
    }),
  );

export const machineSchema = z
  .object({ id: text, metadata: z.record(z.string(), z.string()).optional(), primaryIP: text })
  .transform(
    (machine): ApiMachine => ({
      id: machine.id ?? '',
      ...(machine.metadata !== undefined && { metadata: machine.metadata }),
      ...(machine.primaryIP !== undefined && { primaryIP: machine.primaryIP }),
    }),
  );

const nextPageToken = text;

export const unitPageSchema = z.object({ units: z.array(unitSchema).optional(), nextPageToken });
export const unitStatePageSchema = z.object({
  states: z.array(unitStateSchema).optional(),
  nextPageToken,
});
export const machinePageSchema = z.object({
  machines: z.array(machineSchema).optional(),
  nextPageToken,
});

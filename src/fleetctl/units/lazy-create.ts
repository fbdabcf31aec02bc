import { posix } from 'node:path';
import type { ApiUnit } from '../../api/schema.js';
import { errorMessage } from '../../error-message.js';
import { quoteString } from '../../go/text.js';
import { unrecognizedRequirements } from '../../job/requirements.js';
import { validateUnitOptions } from '../../job/validate-options.js';
import {
  type UnitNameInfo,
  unitNameInfo,
  validateSubmittedUnitName,
  validateUnitName,
} from '../../unit/name.js';
import type { UnitFile } from '../../unit/unit-file.js';
import type { CommandContext } from '../context.js';
import { LocalUnits } from './local-unit.js';
import { recordingContext, UNITS_IN_FLIGHT } from './ordered-jobs.js';
import { type PlannedJob, runPlanned } from './planned-jobs.js';
import { withThrottledUnitReads } from './throttled-reads.js';
import { unitFileOf, unitName, withDefaultUnitType } from './unit-arguments.js';
import { waitForAll } from './wait.js';

const LOG_SOURCE = 'lazy-create.ts';

/** The desired states from which each command may replace a unit (`--replace`). */
const REPLACEABLE_FROM: Readonly<Record<string, readonly string[]>> = {
  submit: ['inactive'],
  load: ['inactive', 'loaded'],
  start: ['inactive', 'loaded', 'launched'],
};

/** Whether the local copy of a registry unit differs, or why it could not be compared. */
interface Comparison {
  different: boolean;
  error?: Error;
}

/**
 * fleet's `lazyCreateUnits` (submit, load, start, restart): makes sure every argument
 * names a unit in the registry, creating it from the local file or from its template,
 * and with `--replace` re-creating a unit whose local file changed. New units are then
 * waited on until they report `inactive`, honouring only `--block-attempts`. Throws with
 * the message fleet prints after `Error creating units: `. Resolves with each unit as last
 * read (after this invocation's last write to it), for the step that follows to use.
 *
 * fleet handled one argument after the other, a few requests each; here up to
 * `UNITS_IN_FLIGHT` are read and checked at once, and the creations made together through
 * the batch path, with the same output in the same order and the same first error (see
 * `runPlanned`).
 */
export async function lazyCreateUnits(
  context: CommandContext,
  args: readonly string[],
): Promise<Map<string, ApiUnit>> {
  const shared = new SharedLookups(context, args);
  const lastRead = new Map<string, ApiUnit>();
  const controller = new AbortController();
  const waits: Promise<Error[]>[] = [];
  const attempts = context.flags.number('block-attempts');
  const waiting = withThrottledUnitReads(context, UNITS_IN_FLIGHT);
  const jobs = args.map((given): PlannedJob<Created> => {
    const arg = withDefaultUnitType(given);
    const name = unitName(arg);
    const info = unitNameInfo(name);
    return {
      reads: info?.isInstance ? [info.template] : [],
      writes: [name],
      plan: async (output) => {
        // A name fleet's validator accepts but no unit file can have (vector name-len-256)
        // is refused before any request; other invalid names fail where fleet failed them.
        if (validateUnitName(name) === null) {
          const problem = validateSubmittedUnitName(name);
          if (problem !== null) throw new Error(problem);
        }
        const recording = recordingContext(context, output);
        const creator = new UnitCreator(recording, shared);
        const existing = await creator.needsCreating(arg, name);
        if (existing !== 'create')
          return { value: { name, created: false, read: existing }, write: null };
        const unitFile = await creator.unitFile(arg, name);
        creator.checkCreation(name, unitFile);
        return {
          value: { name, created: true, read: null },
          write: { kind: 'create', name, options: unitFile.options },
          written: () => recording.log.debug(LOG_SOURCE, `Created Unit(${name}) in Registry`),
          failed: (err) => new Error(`failed creating unit ${name}: ${errorMessage(err)}`),
        };
      },
    };
  });
  try {
    // fleet starts each wait as soon as the unit exists, while it goes on with the rest.
    await runPlanned(context, jobs, ({ name, created, read }) => {
      if (read !== null) lastRead.set(name, read);
      if (!created) return;
      const reached = (unit: ApiUnit) => lastRead.set(name, unit);
      waits.push(waitForAll(waiting, [name], 'inactive', attempts, controller.signal, reached));
    });
  } catch (err) {
    controller.abort();
    throw err;
  }
  const errors = (await Promise.all(waits)).flat();
  for (const error of errors) {
    context.stderr.write(`Error waiting on unit creation: ${error.message}\n`);
  }
  if (errors.length > 0) throw new Error('One or more errors creating units');
  return lastRead;
}

interface LocalTemplate {
  present: Promise<boolean>;
  read(): Promise<UnitFile>;
}

/** One argument's outcome: whether it was created, and the unit as read if it was kept. */
interface Created {
  name: string;
  created: boolean;
  read: ApiUnit | null;
}

/**
 * What every argument's creation shares: the local files; the registry's templates, read
 * once per invocation unless an argument creates the template itself (its readers then wait
 * for it, see `runInOrder`, and read it afresh); and local template files, read once.
 */
class SharedLookups {
  readonly local: LocalUnits;
  readonly replace: boolean;
  private readonly namedByArguments: ReadonlySet<string>;
  private readonly templates = new Map<string, Promise<ApiUnit | null>>();
  private readonly localTemplates = new Map<string, LocalTemplate>();

  constructor(
    private readonly context: CommandContext,
    args: readonly string[],
  ) {
    this.local = new LocalUnits(context.cwd);
    this.replace = context.flags.bool('replace');
    this.namedByArguments = new Set(args.map((arg) => unitName(withDefaultUnitType(arg))));
  }

  /** A local template file: whether it is there, and its parsed content (read on demand). */
  localTemplate(path: string): LocalTemplate {
    let template = this.localTemplates.get(path);
    if (template === undefined) {
      let content: Promise<UnitFile> | undefined;
      template = {
        present: this.local.present(path),
        read: () => {
          content ??= this.local.read(path);
          return content;
        },
      };
      this.localTemplates.set(path, template);
    }
    return template;
  }

  template(name: string): Promise<ApiUnit | null> {
    if (this.namedByArguments.has(name)) return this.context.client.unit(name);
    let unit = this.templates.get(name);
    if (unit === undefined) {
      unit = this.context.client.unit(name);
      this.templates.set(name, unit);
    }
    return unit;
  }
}

/** One argument's creation, writing to its own recorded output. */
class UnitCreator {
  private readonly local: LocalUnits;
  private readonly replace: boolean;

  constructor(
    private readonly context: CommandContext,
    private readonly shared: SharedLookups,
  ) {
    this.local = shared.local;
    this.replace = shared.replace;
  }

  /**
   * fleet's `checkUnitCreation`: `'create'`, or the registry's unit as read when it is to be
   * kept.
   */
  async needsCreating(arg: string, name: string): Promise<'create' | ApiUnit> {
    let unit: ApiUnit | null;
    try {
      unit = await this.context.client.unit(name);
    } catch (err) {
      throw new Error(`error retrieving Unit(${name}) from Registry: ${errorMessage(err)}`);
    }
    if (unit === null) {
      if (this.replace)
        this.context.log.debug(LOG_SOURCE, `Unit(${name}) was not found in Registry`);
      return 'create';
    }
    const comparison = await this.compareWithLocal(arg, unit);
    if (this.replace) {
      if (comparison.error !== undefined) throw comparison.error;
      if (comparison.different && this.replaceable(unit)) return 'create';
      if (!comparison.different) {
        this.context.stdout.write(`Found same Unit(${unit.name}) in Registry, nothing to do\n`);
      }
    } else if (!comparison.different) {
      this.context.log.debug(
        LOG_SOURCE,
        `Found same Unit(${name}) in Registry, no need to recreate it`,
      );
    }
    return unit;
  }

  /** fleet's `checkReplaceUnitState`. */
  private replaceable(unit: ApiUnit): boolean {
    const allowed = REPLACEABLE_FROM[this.context.name];
    if (allowed === undefined)
      throw new Error('error: replacing units is not supported in this context');
    const state = unit.desiredState ?? '';
    if (allowed.includes(state)) return true;
    this.context.stderr.write(
      `Warning: can not replace Unit(${unit.name}) in state '${state}', use the appropriate command\n`,
    );
    return false;
  }

  /**
   * fleet's `isLocalUnitDifferent`: compares the registry's unit with the local file, or,
   * when there is none and the name is an instance, with the local template; warns about a
   * difference unless replacing.
   */
  async compareWithLocal(file: string, unit: ApiUnit): Promise<Comparison> {
    const direct = await this.matchLocal(file, unit);
    if (direct.statError === null) {
      if (!direct.same && !this.replace) {
        this.context.stderr.write(
          `WARNING: Unit ${unit.name} in registry differs from local unit file ${file}. Add --replace to override.\n`,
        );
      }
      return { different: !direct.same };
    }
    const info = unitNameInfo(posix.basename(file));
    if (info === null) {
      return {
        different: false,
        error: new Error(`error extracting information from unit name ${file}`),
      };
    }
    if (!info.isInstance) {
      return {
        different: false,
        error: new Error(`error Unit ${file} does not seem to be a template unit`),
      };
    }
    const template = await this.matchLocal(templatePath(file, info), unit);
    if (template.statError !== null) return { different: false, error: template.statError };
    if (!template.same && !this.replace) {
      this.context.stderr.write(
        `WARNING: Unit ${unit.name} in registry differs from local template unit file ${file}. Add --replace to override.\n`,
      );
    }
    return { different: !template.same };
  }

  /** fleet's `matchLocalFileAndUnit`: a file that does not parse matches nothing. */
  private async matchLocal(
    file: string,
    unit: ApiUnit,
  ): Promise<{ same: boolean; statError: Error | null }> {
    const statError = await this.local.statError(file);
    if (statError !== null) return { same: false, statError };
    try {
      const local = await this.local.read(file);
      return { same: local.hash === unitFileOf(unit).hash, statError: null };
    } catch {
      return { same: false, statError: null };
    }
  }

  /** fleet's `getUnitFile`: the local file, else the instance's template. */
  async unitFile(arg: string, name: string): Promise<UnitFile> {
    if (await this.local.present(arg)) {
      try {
        return await this.local.read(arg);
      } catch (err) {
        throw new Error(`failed getting Unit(${arg}) from file: ${errorMessage(err)}`);
      }
    }
    const info = unitNameInfo(name);
    if (info === null) throw new Error(`error extracting information from unit name ${name}`);
    if (!info.isInstance)
      throw new Error(`unable to find Unit(${name}) in Registry or on filesystem`);
    try {
      return await this.templateFile(info, arg);
    } catch (err) {
      throw new Error(`failed getting Unit(${arg}) from template: ${errorMessage(err)}`);
    }
  }

  /** fleet's `getUnitFileFromTemplate`: the registry's template first, else the local one. */
  private async templateFile(info: UnitNameInfo, arg: string): Promise<UnitFile> {
    let template: ApiUnit | null;
    try {
      template = await this.shared.template(info.template);
    } catch (err) {
      throw new Error(
        `error retrieving template Unit(${info.template}) from Registry: ${errorMessage(err)}`,
      );
    }
    if (template !== null) {
      await this.compareWithLocal(arg, template);
      this.context.log.debug(LOG_SOURCE, `Template Unit(${info.template}) found in registry`);
      return unitFileOf(template);
    }
    const path = templatePath(arg, info);
    const local = this.shared.localTemplate(path);
    if (!(await local.present)) {
      throw new Error(
        `unable to find template Unit(${info.template}) in Registry or on filesystem`,
      );
    }
    try {
      return await local.read();
    } catch (err) {
      throw new Error(
        `unable to load template Unit(${info.template}) from file: ${errorMessage(err)}`,
      );
    }
  }

  /**
   * fleet's `createUnit` up to its request: validates as the API would (name, options) and
   * warns about unknown `[X-Fleet]` keys. The unit is then created without a desired state,
   * so it is `inactive`.
   */
  checkCreation(name: string, unitFile: UnitFile): void {
    const nameError = validateSubmittedUnitName(name);
    if (nameError !== null) throw new Error(nameError);
    const optionsError = validateUnitOptions(unitFile.options);
    if (optionsError !== null) throw new Error(optionsError);
    const unknown = unrecognizedRequirements(unitFile)[0];
    if (unknown !== undefined) {
      this.context.log.warning(
        LOG_SOURCE,
        `Unit ${name}: unrecognized requirement in [X-Fleet] section: ${quoteString(unknown)}`,
      );
    }
  }
}

/** The template next to an instance's file: `dir/foo@1.service` → `dir/foo@.service`. */
function templatePath(file: string, info: UnitNameInfo): string {
  return posix.join(posix.dirname(file), info.template);
}

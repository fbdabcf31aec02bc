/**
 * Counters and gauges rendered in the Prometheus text format (0.0.4) that fleet's `/metrics`
 * served. fleetd owns one registry; the engine registers the `fleet_engine_*` families of
 * fleet and the API renders whatever is registered.
 */

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4';

type Labels = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

class MetricFamily {
  private readonly samples = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    private readonly labelNames: readonly string[],
  ) {
    // An unlabelled metric exists from registration, reading 0, as in Go's client.
    if (labelNames.length === 0) this.samples.set('', { labels: {}, value: 0 });
  }

  update(labels: Labels, change: (value: number) => number): void {
    const names = Object.keys(labels).sort();
    if (names.join(',') !== [...this.labelNames].sort().join(',')) {
      throw new Error(
        `${this.name} takes labels [${this.labelNames.join(', ')}], got [${names.join(', ')}]`,
      );
    }
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    const sample = this.samples.get(key) ?? { labels: { ...labels }, value: 0 };
    sample.value = change(sample.value);
    this.samples.set(key, sample);
  }

  render(): string {
    if (this.samples.size === 0) return '';
    const lines = [
      `# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
      `# TYPE ${this.name} ${this.type}`,
    ];
    const samples = [...this.samples.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [, { labels, value }] of samples) {
      lines.push(`${this.name}${renderLabels(this.labelNames, labels)} ${renderValue(value)}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export interface Gauge {
  set(value: number, labels?: Labels): void;
  add(by: number, labels?: Labels): void;
}

export class MetricsRegistry {
  private readonly families = new Map<string, MetricFamily>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const family = this.register(name, help, 'counter', labelNames);
    return {
      inc: (labels = {}, by = 1) => {
        if (!(by >= 0)) throw new Error(`${name} is a counter: it cannot change by ${by}`);
        family.update(labels, (value) => value + by);
      },
    };
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const family = this.register(name, help, 'gauge', labelNames);
    return {
      set: (value, labels = {}) => family.update(labels, () => value),
      add: (by, labels = {}) => family.update(labels, (value) => value + by),
    };
  }

  /** The exposition text, families sorted by name as Go's client gathers them. */
  render(): string {
    return [...this.families.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((family) => family.render())
      .join('');
  }

  private register(
    name: string,
    help: string,
    type: 'counter' | 'gauge',
    labelNames: readonly string[],
  ): MetricFamily {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    const badLabel = labelNames.find((label) => !LABEL_NAME.test(label));
    if (badLabel !== undefined) throw new Error(`invalid label name ${JSON.stringify(badLabel)}`);
    if (this.families.has(name)) throw new Error(`metric ${name} is already registered`);
    const family = new MetricFamily(name, help, type, labelNames);
    this.families.set(name, family);
    return family;
  }
}

function renderLabels(names: readonly string[], labels: Labels): string {
  if (names.length === 0) return '';
  const pairs = names.map((name) => {
    const value = (labels[name] ?? '')
      .replace(/\\/g, '\\\\')
      .replace(/"/g, '\\"')
      .replace(/\n/g, '\\n');
    return `${name}="${value}"`;
  });
  return `{${pairs.join(',')}}`;
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

import type { Output } from '../../src/fleetctl/output.js';

/** Collects what fleetctl writes, bytes and text alike. */
export class BufferedOutput implements Output {
  private readonly chunks: Buffer[] = [];

  write(data: string | Uint8Array): void {
    this.chunks.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data));
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Where fleetctl writes: process streams in production, buffers in tests. */
export interface Output {
  /** Text is written as UTF-8; bytes (from `fd-forward` and remote commands) as they are. */
  write(data: string | Uint8Array): void;
}

import { describe, expect, it } from 'vitest';
import { hasInstallSection } from '../../src/systemd/install-section.js';

describe('hasInstallSection', () => {
  it('is true for a unit with an [Install] section', () => {
    expect(
      hasInstallSection('[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=a.service\n'),
    ).toBe(true);
  });

  it('is false without one, even when Install appears elsewhere', () => {
    expect(hasInstallSection('[Service]\nExecStart=/bin/echo [Install]\n')).toBe(false);
    expect(hasInstallSection('[X-Install]\nA=b\n')).toBe(false);
    expect(hasInstallSection('')).toBe(false);
  });

  it('is false for an [Install] section with no option: sections exist through options, as in fleet', () => {
    expect(hasInstallSection('[Install]\n')).toBe(false);
  });
});

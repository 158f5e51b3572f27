/** The people list (faces grouped by the faces stage) and naming them. */
import type { PersonInfo, ShoeboxApi } from '../../../electron/core/api/contract.js';
import type { Alerts } from './alerts.svelte.js';
import { coalesce } from './coalesce.js';

export class People {
  list = $state.raw<PersonInfo[]>([]);
  /** The person whose name is being edited in place. */
  renamingId = $state<number | null>(null);

  readonly refresh = coalesce(async () => {
    const list = this.alerts.unwrap('Could not load people', await this.api.call('listPeople', {}));
    if (list) this.list = list;
  });

  constructor(
    private readonly api: ShoeboxApi,
    private readonly alerts: Alerts,
  ) {}

  /** Name (or, with an empty name, un-name) a person; false when refused (the alert says why). */
  async rename(personId: number, name: string): Promise<boolean> {
    const r = this.alerts.unwrap('Could not rename', await this.api.call('renamePerson', { personId, name }));
    if (!r) return false;
    this.list = this.list.map((p) => (p.id === personId ? r : p));
    return true;
  }
}

/** How a person reads in the list. */
export const personLabel = (p: Pick<PersonInfo, 'name'>): string => p.name ?? 'Unnamed';

/**
 * Style of a photo's thumbnail inside a round frame (position: absolute at the frame's centre) so that the face box
 * (fractions [x, y, w, h] of the photo) fills the frame with a margin: translate percentages are of the image's own
 * size, so the face's centre lands on the frame's centre whatever the photo's aspect.
 */
export function faceCoverStyle(box: readonly [number, number, number, number]): string {
  const [x, y, w, h] = box;
  const width = 100 / Math.max(0.05, Math.max(w, h) * 1.6);
  return `width: ${width.toFixed(1)}%; transform: translate(${(-(x + w / 2) * 100).toFixed(1)}%, ${(-(y + h / 2) * 100).toFixed(1)}%)`;
}

/**
 * A person's faces mode: their faces (one tile each), the tiles' selection and keyboard focus, and whether a
 * person's view shows faces or photos (a preference kept across reloads). The whole list is loaded at once (a
 * few numbers per face); the grid renders only the rows in view.
 */
import type { FaceInfo, ShoeboxApi } from '../../../electron/core/api/contract.js';
import type { Alerts } from './alerts.svelte.js';
import { coalesce } from './coalesce.js';
import { facesAt, isPersonMode, type PersonMode } from './faces.js';
import { loadPref, savePref } from './prefs.js';
import { Selection } from './selection.js';

export class PersonFaces {
  mode = $state<PersonMode>(loadPref('personMode', 'photos', isPersonMode));
  /** The person whose view is open, or null. */
  personId = $state<number | null>(null);
  /** Their faces, best first; only kept while the faces mode is on. */
  list = $state.raw<FaceInfo[]>([]);
  /** The list of the open person has not answered yet. */
  loading = $state(false);
  selection = $state.raw<Selection>(Selection.empty);
  focus = $state(0);

  /** Faces are shown: a person is open in faces mode. */
  readonly active = $derived(this.personId !== null && this.mode === 'faces');

  readonly refresh = coalesce(async () => {
    const personId = this.personId;
    if (personId === null || this.mode !== 'faces') return;
    const result = await this.api.call('listFaces', { personId });
    // Another person opened meanwhile: their own load is on its way.
    if (personId !== this.personId) return;
    this.loading = false;
    const faces = this.alerts.unwrap('Could not load the faces', result);
    if (!faces) return;
    this.list = faces;
    this.selection = this.selection.clamp(faces.length);
    this.focus = Math.min(this.focus, Math.max(0, faces.length - 1));
  });

  constructor(
    private readonly api: ShoeboxApi,
    private readonly alerts: Alerts,
  ) {}

  /** A person's view opened (or closed, with null). */
  open(personId: number | null): void {
    if (personId === this.personId) return;
    this.personId = personId;
    this.reset();
  }

  setMode(mode: PersonMode): void {
    if (mode === this.mode) return;
    this.mode = mode;
    savePref('personMode', mode);
    this.reset();
  }

  private reset(): void {
    this.list = [];
    this.selection = Selection.empty;
    this.focus = 0;
    this.loading = this.active;
    if (this.active) void this.refresh();
  }

  selectedFaces(): FaceInfo[] {
    return facesAt(this.list, this.selection.ranges);
  }
}

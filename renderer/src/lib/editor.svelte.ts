/** Every album edit goes through here: it reports failures, keeps the undo/redo state and triggers refreshes. */
import type { ApiResult, EditState, ShoeboxApi } from '../../../electron/core/api/contract.js';
import type { Alerts } from './alerts.svelte.js';

export class Editor {
  edits = $state.raw<EditState>({ undoDepth: 0, redoDepth: 0, undoLabel: null, redoLabel: null });
  /** An edit is in flight; further edits wait for it (the core applies them in order anyway). */
  pending = $state(false);
  canUndo = $derived(this.edits.undoDepth > 0);
  canRedo = $derived(this.edits.redoDepth > 0);
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly api: ShoeboxApi,
    private readonly alerts: Alerts,
    /** Called after every successful edit (refresh albums and the open grid). */
    private readonly changed: () => Promise<void>,
  ) {}

  /** Adopts edit state reported elsewhere (library status). */
  sync(edits: EditState): void {
    this.edits = edits;
  }

  private run<T>(title: string, call: () => Promise<ApiResult<T>>, editsOf: (value: T) => EditState): Promise<T | undefined> {
    const next = this.queue.then(async () => {
      this.pending = true;
      try {
        const value = this.alerts.unwrap(title, await call());
        if (value === undefined) return undefined;
        this.edits = editsOf(value);
        await this.changed();
        return value;
      } finally {
        this.pending = false;
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  async move(photoIds: number[], toAlbumId: number): Promise<boolean> {
    const r = await this.run('Could not move photos', () => this.api.call('movePhotos', { photoIds, toAlbumId }), (e) => e);
    return r !== undefined;
  }

  async rename(albumId: number, name: string): Promise<boolean> {
    const r = await this.run('Could not rename the album', () => this.api.call('renameAlbum', { albumId, name }), (e) => e);
    return r !== undefined;
  }

  async merge(sourceId: number, targetId: number): Promise<boolean> {
    const r = await this.run('Could not merge albums', () => this.api.call('mergeAlbums', { sourceId, targetId }), (e) => e);
    return r !== undefined;
  }

  async remove(albumId: number): Promise<boolean> {
    const r = await this.run('Could not delete the album', () => this.api.call('deleteAlbum', { albumId }), (e) => e);
    return r !== undefined;
  }

  /** Creates an album (optionally with photos); resolves its id. */
  async create(name: string, photoIds?: number[]): Promise<number | undefined> {
    const args = photoIds && photoIds.length > 0 ? { name, photoIds } : { name };
    const r = await this.run('Could not create the album', () => this.api.call('createAlbum', args), (v) => v.edits);
    return r?.albumId;
  }

  async undo(): Promise<void> {
    if (this.canUndo) await this.run('Could not undo', () => this.api.call('undo', {}), (e) => e);
  }

  async redo(): Promise<void> {
    if (this.canRedo) await this.run('Could not redo', () => this.api.call('redo', {}), (e) => e);
  }
}

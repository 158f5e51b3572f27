/**
 * The root of the UI state: one instance per window, shared with components through context.
 * Owns the managers and routes core events to them.
 */
import { getContext } from 'svelte';
import type { ApiEvent, EditState, PersonInfo, PhotoView, ShoeboxApi } from '../../../electron/core/api/contract.js';
import { Albums } from './albums.svelte.js';
import { Alerts } from './alerts.svelte.js';
import type { DragPayload } from './drag.js';
import { Editor } from './editor.svelte.js';
import { facesInPhotos } from './faces.js';
import { Library } from './library.svelte.js';
import { People, personLabel } from './people.svelte.js';
import { PersonFaces } from './person-faces.svelte.js';
import { AlbumPhotos, RESULT_ID, SIMILAR_ID, TIMELINE_ID } from './photos.svelte.js';
import { Selection, type Range } from './selection.js';

export type Dialog =
  | { kind: 'settings' }
  | { kind: 'move'; count: number }
  | { kind: 'merge'; sourceId: number; targetId: number }
  | { kind: 'merge-people'; sourceId: number; targetId: number }
  | { kind: 'delete'; albumId: number }
  | { kind: 'export'; albumId: number };

/** A grid that is not an album: the timeline, "more like this", or a search result. */
export interface SpecialView {
  id: number;
  title: string;
  view: PhotoView;
  /** Count to size the grid with until the first page answers. */
  estimate: number;
}

export class ShoeboxApp {
  readonly alerts = new Alerts();
  readonly library: Library;
  readonly albums: Albums;
  readonly photos: AlbumPhotos;
  readonly editor: Editor;
  readonly people: People;
  /** A person's faces mode. */
  readonly faces: PersonFaces;
  /** The drag in progress in this window (see drag.ts). */
  drag = $state.raw<DragPayload | null>(null);
  dialog = $state.raw<Dialog | null>(null);
  /** Shown instead of the selected album while set. */
  special = $state.raw<SpecialView | null>(null);

  constructor(readonly api: ShoeboxApi) {
    this.library = new Library(api, this.alerts);
    this.albums = new Albums(api, this.alerts);
    this.photos = new AlbumPhotos(api, this.alerts);
    this.editor = new Editor(api, this.alerts, () => this.contentChanged());
    this.people = new People(api, this.alerts);
    this.faces = new PersonFaces(api, this.alerts);
  }

  /** Loads everything and follows core events; returns the teardown. */
  start(): () => void {
    const unsubscribe = this.api.subscribe((event) => this.onEvent(event));
    // Open the first album as soon as the list is known, before anything renders, so its first page is on its way
    // while the UI mounts (App keeps the grid in sync with later selections).
    const albums = this.albums.refresh().then(() => {
      const album = this.albums.selected;
      if (album) this.photos.open(album.id, album.count);
    });
    void this.people.refresh();
    void Promise.all([this.library.refresh(), this.library.loadSettings(), albums]).then(() => {
      if (this.library.status) this.editor.sync(this.library.status.edits);
    });
    return unsubscribe;
  }

  private onEvent(event: ApiEvent): void {
    if (this.library.onEvent(event)) void this.contentChanged();
  }

  /** Albums or photos changed (an edit here, a job, another window): refetch the list and the open grid. */
  async contentChanged(): Promise<void> {
    this.photos.reload();
    await Promise.all([this.albums.refresh(), this.library.refresh(), this.people.refresh(), this.faces.refresh()]);
    if (this.library.status) this.editor.sync(this.library.status.edits);
  }

  showTimeline(): void {
    this.special = { id: TIMELINE_ID, title: 'All photos', view: { kind: 'timeline' }, estimate: this.library.status?.photoCount ?? 1 };
  }

  /** "More like this": the photos nearest to these, from the whole library. */
  showSimilar(photoIds: number[]): void {
    if (photoIds.length === 0) return;
    const title = photoIds.length === 1 ? 'More like this photo' : `More like these ${photoIds.length} photos`;
    this.photos.viewing = null;
    this.special = { id: SIMILAR_ID, title, view: { kind: 'similar', photoIds: photoIds.slice(0, 1000) }, estimate: 1 };
  }

  /** A person's photos. */
  showPerson(person: PersonInfo): void {
    this.photos.viewing = null;
    this.showResult(personLabel(person), { kind: 'person', personId: person.id }, person.count);
  }

  /** The faces of person `personId` in the photos at `ranges` of the open grid. */
  private async facesIn(personId: number, ranges: readonly Range[]): Promise<number[] | null> {
    const ids = await this.photos.idsOf(ranges);
    if (ids === null || ids.length === 0) return null;
    const faces = this.alerts.unwrap('Could not load the faces', await this.api.call('listFaces', { personId }));
    if (!faces) return null;
    return facesInPhotos(faces, ids);
  }

  private async afterPeopleEdit(edits: EditState | undefined): Promise<boolean> {
    if (!edits) return false;
    this.photos.selection = Selection.empty;
    this.faces.selection = Selection.empty;
    this.editor.sync(edits);
    await this.contentChanged();
    return true;
  }

  /** In a person's view: the selected faces (or the selected photos' faces) are "not this person", or a new person. */
  async personAction(kind: 'not' | 'split'): Promise<boolean> {
    const view = this.special?.view;
    if (view?.kind !== 'person') return false;
    const faceIds = this.faces.active
      ? this.faces.selectedFaces().map((f) => f.id)
      : await this.facesIn(view.personId, this.photos.selection.ranges);
    if (!faceIds || faceIds.length === 0) return false;
    if (kind === 'not')
      return this.afterPeopleEdit(
        this.alerts.unwrap('Could not remove', await this.api.call('notThisPerson', { faceIds, personId: view.personId })),
      );
    return this.afterPeopleEdit(this.alerts.unwrap('Could not split', await this.api.call('moveFaces', { faceIds }))?.edits);
  }

  /** Photos dragged out of one person's view onto another person: that person's faces in them move. */
  async moveFacesTo(fromPersonId: number, ranges: readonly Range[], toPersonId: number): Promise<boolean> {
    const faceIds = await this.facesIn(fromPersonId, ranges);
    if (!faceIds || faceIds.length === 0) return false;
    return this.moveFaceIds(faceIds, toPersonId);
  }

  /** Face tiles dragged onto a person. */
  async moveFaceIds(faceIds: readonly number[], toPersonId: number): Promise<boolean> {
    if (faceIds.length === 0) return false;
    const moved = await this.api.call('moveFaces', { faceIds: [...faceIds], toPersonId });
    return this.afterPeopleEdit(this.alerts.unwrap('Could not move', moved)?.edits);
  }

  /** Double-click on a face tile: the lightbox opens on its photo, among the person's photos. */
  async openFacePhoto(photoId: number): Promise<void> {
    const index = await this.photos.indexOfPhoto(photoId);
    if (index === null) return;
    this.photos.focus = index;
    this.photos.viewing = index;
  }

  async mergePeople(sourceId: number, targetId: number): Promise<boolean> {
    const merged = await this.afterPeopleEdit(
      this.alerts.unwrap('Could not merge', await this.api.call('mergePeople', { sourceId, targetId })),
    );
    if (merged && this.special?.view.kind === 'person' && this.special.view.personId === sourceId) {
      const target = this.people.list.find((p) => p.id === targetId);
      if (target) this.showPerson(target);
    }
    return merged;
  }

  showResult(title: string, view: PhotoView, count: number): void {
    this.special = { id: RESULT_ID, title, view, estimate: Math.max(1, count) };
  }

  /** Back to the albums (the selected one opens again). */
  selectAlbum(id: number): void {
    this.special = null;
    this.albums.select(id);
  }

  /** Moves photos at `ranges` of the open album `fromAlbumId` to another album; clears the selection. */
  async movePositions(fromAlbumId: number, ranges: readonly Range[], toAlbumId: number): Promise<boolean> {
    if (this.photos.albumId !== fromAlbumId) return false;
    // A failed page load has already been reported by the photos manager.
    const ids = await this.photos.idsOf(ranges);
    if (ids === null || ids.length === 0) return false;
    const moved = await this.editor.move(ids, toAlbumId);
    if (moved) this.photos.selection = Selection.empty;
    return moved;
  }

  moveSelection(toAlbumId: number): Promise<boolean> {
    const from = this.photos.albumId;
    return from === null ? Promise.resolve(false) : this.movePositions(from, this.photos.selection.ranges, toAlbumId);
  }

  /** Moves the selection into a new album; resolves the new album's id. */
  async moveSelectionToNewAlbum(name: string): Promise<number | undefined> {
    const ids = await this.photos.selectedIds();
    if (ids === null || ids.length === 0) return undefined;
    const albumId = await this.editor.create(name, ids);
    if (albumId !== undefined) this.photos.selection = Selection.empty;
    return albumId;
  }
}

/** Context key under which main.ts mounts the app (`mount(App, { context })`). */
export const APP_CONTEXT = Symbol('shoebox-app');

export function useApp(): ShoeboxApp {
  const app = getContext<ShoeboxApp | undefined>(APP_CONTEXT);
  if (!app) throw new Error('useApp() outside <App>');
  return app;
}

/**
 * The object detectors Shoebox builds from models npm packages ship: the full graph up to a per-class score map,
 * converted to ONNX and reduced to one score per class, plus a DetectorManifest.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { encodeModel } from '../onnx/proto.js';
import { COCO_LABELS, DETECTOR_KIND, validateDetectorManifest, type DetectorManifest } from './detector-manifest.js';
import { CENTERNET_MNV3, readPackageInfo, sha256Hex, type PackageInfo } from './encoders.js';
import { convertGraphModel, OPSET } from './tfjs.js';
import { loadTfjsModel, type TfjsGraphModel } from './tfjs-model.js';

export interface DetectorSpec {
  id: string;
  /** Bump when the conversion output changes on purpose. */
  version: string;
  package: string;
  /** A tfjs model.json inside the package. */
  modelPath: string;
  /** Source node holding the per-class object-centre heatmap, NHWC [batch, H, W, classes], after its sigmoid. */
  cutAt: string;
  inputSize: number;
  preprocess: DetectorManifest['preprocess'];
  labels: readonly string[];
  stripPrefix?: string;
  weightsLicense?: string;
  summary: string;
  notes: string;
}

/** ONNX names of the detector's input and output. */
export const DETECTOR_INPUT = 'input';
export const DETECTOR_OUTPUT = 'scores';

/**
 * The full mb3-centernet COCO detector whose backbone is the default encoder, at the encoder's input (320x320, raw
 * 0..255, centre crop), so one decoded image feeds both models.
 */
export const CENTERNET_OBJECTS: DetectorSpec = {
  id: 'centernet_objects',
  version: '1',
  package: CENTERNET_MNV3.package,
  modelPath: CENTERNET_MNV3.modelPath,
  cutAt: 'tower_0/keypoints',
  inputSize: CENTERNET_MNV3.inputSize,
  preprocess: CENTERNET_MNV3.preprocess,
  labels: COCO_LABELS,
  stripPrefix: 'tower_0/',
  weightsLicense: CENTERNET_MNV3.weightsLicense,
  summary: 'Finds the COCO object classes (people, animals, vehicles, food, furniture ...) in a photo.',
  notes:
    'The complete mb3-centernet COCO detector (github.com/610265158/mobilenetv3_centernet, converted to tfjs by ' +
    'Vladimir Mandic; float16 weights widened to float32): MobileNetV3 backbone, upsampling head, sigmoid ' +
    'object-centre heatmap (tower_0/keypoints, 80 classes at stride 4), then a global max over the heatmap per class. ' +
    "The global max is the best peak, the same score the source's own decoding (3x3 max-pool peaks, top 100) gives " +
    "a class's strongest detection. Box sizes (tower_0/wh) are not converted. The up-sampling sizes the tfjs " +
    'converter folded for 512x512 are rescaled to the 320x320 input. Labels: COCO 2017 categories in id order.',
};

/** Detectors `build-models` produces. */
export const DETECTORS: readonly DetectorSpec[] = [CENTERNET_OBJECTS];

export interface BuiltDetector {
  manifest: DetectorManifest;
  onnx: Uint8Array;
}

/** sha256 of model.json and of each weight shard it lists, keyed by path inside the package. */
export async function sourceFileHashes(spec: Pick<DetectorSpec, 'modelPath'>, source: TfjsGraphModel, pkg: PackageInfo): Promise<Record<string, string>> {
  const dir = path.posix.dirname(spec.modelPath);
  const files = [spec.modelPath, ...source.json.weightsManifest.flatMap((g) => g.paths.map((p) => path.posix.join(dir, p)))];
  const out: Record<string, string> = {};
  for (const f of files) out[f] = sha256Hex(await readFile(path.join(pkg.dir, f)));
  return out;
}

/** Convert an already loaded source model of `spec` to ONNX bytes plus manifest (deterministic). */
export function convertDetector(spec: DetectorSpec, source: TfjsGraphModel, pkg: PackageInfo, files: Record<string, string>): BuiltDetector {
  const provenance = `${spec.package}@${pkg.version}/${spec.modelPath} cut at ${spec.cutAt}, global max per class`;
  const { model, outputShape } = convertGraphModel(source, {
    outputNode: spec.cutAt,
    inputSize: { height: spec.inputSize, width: spec.inputSize },
    inputName: DETECTOR_INPUT,
    outputName: DETECTOR_OUTPUT,
    pool: 'global-max',
    stripPrefix: spec.stripPrefix,
    graphName: spec.id,
    docString: `Shoebox object detector ${spec.id}@${spec.version}: ${provenance}`,
    metadata: { id: spec.id, version: spec.version, source: provenance },
  });
  if (outputShape.length !== 2 || outputShape[1] !== spec.labels.length)
    throw new Error(`${spec.id}: expected a [batch, ${spec.labels.length}] output, got [${outputShape.join(', ')}]`);
  const onnx = encodeModel(model);
  const manifest: DetectorManifest = {
    id: spec.id,
    version: spec.version,
    kind: DETECTOR_KIND,
    file: `${spec.id}.onnx`,
    sha256: sha256Hex(onnx),
    opset: OPSET,
    input: { name: DETECTOR_INPUT, layout: 'NHWC', width: spec.inputSize, height: spec.inputSize, channels: 3, dtype: 'float32' },
    preprocess: spec.preprocess,
    scores: { name: DETECTOR_OUTPUT, labels: [...spec.labels] },
    source: {
      package: spec.package,
      version: pkg.version,
      path: spec.modelPath,
      files,
      cutAt: spec.cutAt,
      license: pkg.license,
      ...(spec.weightsLicense ? { weightsLicense: spec.weightsLicense } : {}),
    },
    summary: spec.summary,
    notes: spec.notes,
  };
  return { manifest: validateDetectorManifest(manifest), onnx };
}

/** Locate, load, hash and convert a detector's source model from its installed package. */
export async function buildDetector(spec: DetectorSpec, startDirs?: string[]): Promise<BuiltDetector> {
  const pkg = readPackageInfo(spec.package, startDirs);
  const source = await loadTfjsModel(path.join(pkg.dir, spec.modelPath));
  return convertDetector(spec, source, pkg, await sourceFileHashes(spec, source, pkg));
}

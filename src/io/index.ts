/** Public API of the checkpoint / array readers and writers. */
export { readPth, findStateDict, isTensorData, STATE_DICT_KEYS } from './pth.js';
export { readPthFile } from './pth_file.js';
export { writePth, writePthFile } from './pth_write.js';
export { readNpy, writeNpy, readNpyFile, writeNpyFile } from './npy.js';
export {
  readSafetensors,
  writeSafetensors,
  readSafetensorsFile,
  writeSafetensorsFile,
  type Safetensors,
} from './safetensors.js';
export { unpickle, PyGlobal, PyObject, DENIED_MODULES, type Reducer, type UnpickleOptions } from './pickle.js';
export { readZip, ZipArchive, type ZipEntry } from './zip.js';
export { readFileBytes, writeFileAtomic } from './files.js';

// Quick start: classify images with the Fashion-MNIST model that ships inside the package.
//   npx tsx examples/quickstart.ts
import { pipeline } from 'flatten-transformer';

const classify = await pipeline('image-classification', 'flatten_deit_fmnist', { topK: 3 });
const images = ['examples/images/tshirt.png', 'examples/images/sneaker.png', 'examples/images/bag.png'];
const results = await classify(images);
results.forEach((top, i) => {
  console.log(images[i], top.map(({ label, score }) => `${label} ${(100 * score).toFixed(1)}%`).join(', '));
});
await classify.dispose();

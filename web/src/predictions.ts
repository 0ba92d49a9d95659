/** The top-5 list: class name, a bar and the probability. */
export function renderPredictions(root: HTMLElement, probs: Float32Array, labels: readonly string[]): void {
  const top = [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 5);
  root.replaceChildren(
    ...top.map((k) => {
      const li = document.createElement('li');
      li.dataset.class = String(k);
      li.innerHTML = '<span class="label"></span><span class="bar"><span></span></span><span class="prob"></span>';
      li.querySelector('.label')!.textContent = labels[k];
      (li.querySelector('.bar span') as HTMLElement).style.width = `${(100 * probs[k]).toFixed(1)}%`;
      li.querySelector('.prob')!.textContent = `${(100 * probs[k]).toFixed(1)}%`;
      return li;
    }),
  );
}

// Runs a .gguf in llama.cpp itself (node-llama-cpp's prebuilt binding, CPU) for the GGUF export tests.
//
//   node llama_cpp_run.mjs NODE_LLAMA_CPP_DIR < request.json > answer.json
//
// request: {"model": "model.gguf", "max_new_tokens": 8, "logits": false,
//           "prompts": [{"tokens": [5, 17]} | {"messages": [{"role": "user", "content": "Hi"}]}],
//           "score": [{"tokens": [...], "start": 12}]}
// A "messages" prompt is rendered with the chat template stored in the GGUF (tokenizer.chat_template), by
// node-llama-cpp's Jinja chat wrapper, then tokenised by llama.cpp.
// answer: {"llama_cpp": "v0.5.0", "node_llama_cpp": "3.22.1",
//          "generations": [{"prompt": [ids], "tokens": [greedy ids, up to the first end-of-generation token],
//                           "finished": true, "text": "...", "logits": [V floats after the prompt]}],
//          "scores": [[llama.cpp's argmax after each of tokens[start - 1 : -1]]]}
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const pkg = process.argv[2];
const { getLlama, JinjaTemplateChatWrapper, LlamaText } = await import(
  pathToFileURL(join(pkg, "dist", "index.js")).href
);
const request = JSON.parse(readFileSync(0, "utf8"));

// build: "never": the prebuilt binary or an error, never a compile or a download.
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath: request.model, gpuLayers: 0 });
const context = await model.createContext({ contextSize: request.context_size ?? 1024, threads: Number(process.env.LLAMA_THREADS ?? 2) });
const sequence = context.getSequence();
const greedy = { temperature: 0 };

let wrapper = null;

function chatTokens(messages) {
  const template = model.fileInfo.metadata.tokenizer.chat_template;
  if (!template) throw new Error("the GGUF has no tokenizer.chat_template");
  wrapper ??= new JinjaTemplateChatWrapper({ template });
  const history = messages.map((m) =>
    m.role === "assistant"
      ? { type: "model", response: [m.content] }
      : { type: m.role, text: m.content },
  );
  history.push({ type: "model", response: [] }); // the open assistant turn generation continues
  const { contextText } = wrapper.generateContextState({ chatHistory: history });
  return LlamaText(contextText).tokenize(model.tokenizer);
}

function denseLogits(map) {
  const out = new Array(model.fileInfo.metadata.tokenizer.ggml.tokens.length).fill(null);
  for (const [token, logit] of map) out[token] = logit;
  return out;
}

async function generate(prompt) {
  const tokens = prompt.tokens ?? chatTokens(prompt.messages);
  await sequence.clearHistory();
  const next = { token: true, options: greedy, logits: Boolean(request.logits) };
  const items = tokens.map((t, i) => (i === tokens.length - 1 ? [t, { generateNext: next }] : t));
  let result = (await sequence.controlledEvaluate(items)).at(-1).next;
  const logits = request.logits ? denseLogits(result.logits) : undefined;
  const out = [];
  let finished = false;
  while (out.length < request.max_new_tokens) {
    const token = result.token;
    if (model.isEogToken(token)) {
      finished = true;
      break;
    }
    out.push(token);
    if (out.length === request.max_new_tokens) break;
    result = (await sequence.controlledEvaluate([[token, { generateNext: { token: true, options: greedy } }]]))[0]
      .next;
  }
  return { prompt: tokens, tokens: out, finished, text: model.detokenize(out).trim(), logits };
}

async function argmaxes({ tokens, start }) {
  await sequence.clearHistory();
  const items = tokens.map((t, i) =>
    i >= start - 1 && i < tokens.length - 1 ? [t, { generateNext: { token: true, options: greedy } }] : t,
  );
  const results = await sequence.controlledEvaluate(items);
  return results.slice(start - 1, tokens.length - 1).map((r) => r.next.token);
}

const generations = [];
for (const prompt of request.prompts ?? []) generations.push(await generate(prompt));
const scores = [];
for (const row of request.score ?? []) scores.push(await argmaxes(row));
const info = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));
process.stdout.write(
  JSON.stringify({ llama_cpp: llama.llamaCppRelease.release, node_llama_cpp: info.version, generations, scores }),
);
await model.dispose();
await llama.dispose();

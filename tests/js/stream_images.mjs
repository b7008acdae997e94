// The official openai Node SDK against a running gateway: streamed partial images and chat with image output.
// Usage: IMAGEGATE_URL=http://127.0.0.1:PORT node stream_images.mjs  -> one JSON summary on stdout.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.IMAGEGATE_URL + "/v1", apiKey: "x", maxRetries: 0 });
const summary = { generate: [], edit: [], chat: null, error: null };

const stream = await client.images.generate({
  model: "gpt-image-1", prompt: "a paper boat", size: "1024x1024", stream: true, partial_images: 2,
});
for await (const event of stream) {
  summary.generate.push({
    type: event.type, index: event.partial_image_index ?? null, size: event.size, bytes: event.b64_json.length,
    usage: event.usage ?? null, provider: event.metadata?.provider ?? null,
  });
}

const png = Buffer.from(process.env.IMAGEGATE_PNG_B64, "base64");
const edit = await client.images.edit({
  model: "gpt-image-1", prompt: "add a hat", image: await OpenAI.toFile(png, "a.png", { type: "image/png" }),
  stream: true, partial_images: 1,
});
for await (const event of edit) summary.edit.push(event.type);

const chat = await client.chat.completions.create({
  model: "gemini-3-pro-image-preview", messages: [{ role: "user", content: "a lighthouse" }],
  modalities: ["image", "text"],
});
const message = chat.choices[0].message;
summary.chat = { content: message.content, images: message.images.map((i) => i.image_url.url.slice(0, 22)) };

try {
  const failing = await client.images.generate({ model: "no-such-model", prompt: "x", stream: true });
  for await (const _ of failing);
} catch (err) {
  summary.error = { status: err.status ?? null, name: err.constructor.name };
}
console.log(JSON.stringify(summary));

"""A tiny byte-level BPE tokenizer with a ChatML chat template, trained in a second.

Nothing is downloaded: tests that need a tokenizer (and later a model) build it here.
"""

from __future__ import annotations

import itertools

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]
_WORDS = ("the a an of to in is it you that he was for on are with as his they be at one have this from "
          "weather nice french german translate sort capital tips healthy sleep eat move answer question "
          "system user assistant give three sentence explain numbers ascending").split()
_CHINESE = "光合作用是植物利用光能把二氧化碳和水变成有机物并释放氧气的过程用一句话解释"


def corpus(lines: int = 400) -> list[str]:
    """Deterministic pseudo-text: English word runs, Chinese character runs, digits."""
    words = itertools.cycle(_WORDS)
    out = []
    for i in range(lines):
        english = " ".join(next(words) for _ in range(5 + i % 11))
        chinese = _CHINESE[i % 7 : i % 7 + 8 + i % 5]
        out.append(f"{english.capitalize()}. {chinese} {i % 97}, {i * 7 % 13}.")
    return out


def build_tokenizer(vocab_size: int = 600):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>",
                                        eos_token="<|im_end|>", bos_token=None)
    tokenizer.chat_template = CHATML
    return tokenizer


def build_model(tokenizer, seed: int = 0):
    """A random-initialised 2-layer Llama (~100k parameters) that samples by default."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    bos = tokenizer.convert_tokens_to_ids("<|im_start|>")
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096,
                         bos_token_id=bos, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id,
                         tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    # sampling by default: `transformers serve` only changes temperature, never do_sample
    model.generation_config = GenerationConfig(bos_token_id=bos, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id,
                                               do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=32)
    return model


def save_tiny_model(directory):
    """Tokenizer and random 2-layer Llama saved together: a model directory like any other."""
    tokenizer = build_tokenizer()
    build_model(tokenizer).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def save_token_reward_model(directory, tokenizer, token: str, strength: float = 20.0):
    """A reward model that scores a conversation by how often `token` occurs in it, built by hand.

    One layer whose attention is uniform (zero queries and keys) and whose value reads one
    embedding coordinate that only `token` sets, so the last position holds the token's share
    of the sequence; the score head reads that coordinate. Every other weight is zero, except
    a constant on the other coordinates that keeps the norms steady. Saved like train rm's output.
    """
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    (token_id,) = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(token))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, num_labels=1)
    model = LlamaForSequenceClassification(config)
    with torch.no_grad():
        for weight in model.parameters():
            weight.zero_()
        embeddings = model.model.embed_tokens.weight
        embeddings[:, 2:] = 1.0
        embeddings[token_id, 1] = strength
        layer = model.model.layers[0]
        for norm in (layer.input_layernorm, layer.post_attention_layernorm, model.model.norm):
            norm.weight.fill_(1.0)
        layer.self_attn.v_proj.weight[0, 1] = 1.0  # head 0 carries coordinate 1 ...
        layer.self_attn.o_proj.weight[1, 0] = 1.0  # ... back into coordinate 1, averaged over positions
        model.score.weight[0, 1] = 1.0
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory

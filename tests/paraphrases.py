"""The paraphrase queries of sample_corpus/: each shares no content word with its answer,
which is the only note that fits. The first is the README's demo question. Shared by
tests/test_semantic.py and benchmarks/abstention.py."""

PARAPHRASES = [
    ("stop server journals from filling up the drive", "howto/logrotate.md"),
    ("what to do with kitchen scraps and fallen leaves", "garden/composting.md"),
    ("sign in to a remote computer without typing a password", "howto/ssh-keys.md"),
    ("faucet that won't quit dripping", "home/kitchen-mixer-leak.md"),
    ("money set aside in case I lose my job", "finance/emergency-fund.txt"),
    ("struggling with insomnia and grogginess", "health/sleep-notes.md"),
    ("keep my wild yeast culture alive in the fridge", "recipes/baking/sourdough-starter.md"),
    ("lower the interest on our home loan", "finance/remortgage-2024.md"),
    ("what to bring on a backpacking trip", "travel/packing-list-hiking.md"),
    ("automatically re-attempt flaky web requests", "code/python-retry-decorator.md"),
]

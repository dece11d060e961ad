"""Data sources of the translation app on fixture files, and the split rule."""

from __future__ import annotations

import hashlib
import warnings

import pytest

from lstmsuite.apps.translation.data import SOURCES, SPLITS, split_of
from tests.apps.translation.conftest import SHARED_DATA


def test_split_rule_is_the_shared_readme_md5_rule():
    for sentence in ["Go.", "Run!", "I'm cold.", "Tom won't sing."]:
        value = int(hashlib.md5(sentence.encode("utf-8")).hexdigest(), 16) % 20
        expected = {0: "test", 1: "valid"}.get(value, "train")
        assert split_of(sentence) == expected
    # About 5% / 5% / 90% on many keys.
    splits = [split_of(f"sentence {i}") for i in range(4000)]
    assert 0.03 < splits.count("test") / 4000 < 0.07
    assert 0.03 < splits.count("valid") / 4000 < 0.07


def test_tsv_reads_anki_format_and_keeps_translations_together(tmp_path):
    path = tmp_path / "fra.txt"
    rows = [("Go.", "Va !"), ("Go.", "Marche."), ("Run!", "Cours !")]
    rows += [(f"I see {i}.", f"Je vois {i}.") for i in range(200)]
    text = "\n".join(f"{en}\t{fr}\tCC-BY 2.0 #{i}" for i, (en, fr) in enumerate(rows))
    path.write_text(text + "\n\n", encoding="utf-8")  # a trailing blank line
    pairs = SOURCES.get("tsv")(str(path))
    assert set(pairs) == set(SPLITS)
    assert sum(len(p) for p in pairs.values()) == len(rows)
    go = pairs[split_of("Go.")]
    assert [t for s, t in zip(go.sources, go.targets) if s == "Go."] == [
        "Va !",
        "Marche.",
    ]
    for split, p in pairs.items():
        assert all(split_of(s) == split for s in p.sources)
    assert pairs.info["pairs"]["test"] == len(pairs["test"]) > 0

    reverse = SOURCES.get("tsv")(str(path), reverse=True)
    for split in SPLITS:  # same pairs in the same split, direction swapped
        assert reverse[split].sources == pairs[split].targets
        assert reverse[split].targets == pairs[split].sources


def test_tsv_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("Go.\tVa !\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected source<TAB>target"):
        SOURCES.get("tsv")(str(path))
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        SOURCES.get("tsv")(str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no sentence pairs"):
        SOURCES.get("tsv")(str(tmp_path / "empty.txt"))
    with pytest.raises(TypeError, match="revers"):
        SOURCES.get("tsv")(str(path), revers=True)


def test_tsv_skips_and_counts_pairs_with_an_empty_side(tmp_path):
    path = tmp_path / "pairs.txt"
    lines = ["Go.\tVa !", "Hi.\t\tCC-BY", "\tSalut !", "Run!\tCours !", " \t ", ""]
    lines += ["Wait.\t  ", "Stop.\tArrête !"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.warns(UserWarning) as caught:
        pairs = SOURCES.get("tsv")(str(path))
    messages = [str(w.message) for w in caught if "empty" in str(w.message)]
    assert len(messages) == 1  # one warning for the whole file
    assert "pairs.txt" in messages[0] and "3 pairs" in messages[0]
    assert "lines 2, 3, 7" in messages[0]  # line 5, only spaces and a tab, is blank
    assert pairs.info["skipped_empty"] == 3
    kept = sorted(s for p in pairs.values() for s in p.sources)
    assert kept == ["Go.", "Run!", "Stop."]
    assert all(t for p in pairs.values() for t in p.targets)
    with pytest.warns(UserWarning, match="3 pairs"):
        assert SOURCES.get("tsv")(str(path), reverse=True).info["skipped_empty"] == 3

    path.write_text("Go.\tVa !\n" + "Hi.\t\n" * 8, encoding="utf-8")
    with pytest.warns(UserWarning, match=r"8 pairs .* lines 2, 3, 4, 5, 6, \.\.\.$"):
        SOURCES.get("tsv")(str(path))

    path.write_text("Go.\tVa !\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing skipped: no warning
        assert SOURCES.get("tsv")(str(path)).info["skipped_empty"] == 0


def test_parallel_text_skips_and_counts_lines_empty_on_one_side(tmp_path):
    (tmp_path / "a.en").write_text("One.\n\nThree.\nFour.\n\n", encoding="utf-8")
    (tmp_path / "a.fr").write_text("Un.\nDeux.\n \nQuatre.\n\n", encoding="utf-8")
    (tmp_path / "b.en").write_text("Hello.\nBye.\n", encoding="utf-8")
    (tmp_path / "b.fr").write_text("Bonjour.\n\n", encoding="utf-8")
    load = SOURCES.get("parallel_text")
    with pytest.warns(UserWarning) as caught:
        pairs = load(str(tmp_path), source="a.en", target="a.fr")
    messages = [str(w.message) for w in caught if "empty" in str(w.message)]
    assert len(messages) == 1 and "2 pairs" in messages[0]
    assert "a.en" in messages[0] and "lines 2, 3" in messages[0]
    assert pairs.info["skipped_empty"] == 2  # line 5, empty on both sides, is blank
    assert sorted(s for p in pairs.values() for s in p.sources) == ["Four.", "One."]

    with pytest.warns(UserWarning) as caught:
        pairs = load(
            str(tmp_path),
            source="a.en",
            target="a.fr",
            valid_source="b.en",
            valid_target="b.fr",
            test_source="b.en",
            test_target="b.fr",
        )
    messages = [str(w.message) for w in caught if "empty" in str(w.message)]
    assert len(messages) == 1 and "4 pairs" in messages[0]  # 2 + 1 (valid) + 1 (test)
    assert "b.en + " in messages[0] and "b.fr line 2" in messages[0]
    assert pairs.info["skipped_empty"] == 4
    assert pairs["test"].sources == ["Hello."] and pairs["test"].targets == ["Bonjour."]


def test_parallel_text_splits_by_rule_or_by_files(tmp_path):
    english = [f"Sentence number {i}." for i in range(300)]
    french = [f"Phrase numéro {i}." for i in range(300)]
    (tmp_path / "train.en").write_text("\n".join(english) + "\n", encoding="utf-8")
    (tmp_path / "train.fr").write_text("\n".join(french) + "\n", encoding="utf-8")
    load = SOURCES.get("parallel_text")
    pairs = load(str(tmp_path), source="train.en", target="train.fr")
    assert sum(len(p) for p in pairs.values()) == 300
    for split, p in pairs.items():
        assert all(split_of(s) == split for s in p.sources)
        assert all(
            t == s.replace("Sentence number", "Phrase numéro")
            for s, t in zip(p.sources, p.targets)
        )

    (tmp_path / "test.en").write_text("Hello.\nBye.\n", encoding="utf-8")
    (tmp_path / "test.fr").write_text("Bonjour.\nSalut.\n", encoding="utf-8")
    pairs = load(
        str(tmp_path),
        source="train.en",
        target="train.fr",
        valid_source="test.en",
        valid_target="test.fr",
        test_source="test.en",
        test_target="test.fr",
    )
    assert len(pairs["train"]) == 300
    assert pairs["test"].targets == ["Bonjour.", "Salut."]

    (tmp_path / "short.fr").write_text("Un.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line-aligned"):
        load(str(tmp_path), source="test.en", target="short.fr")


def test_tfds_reads_a_prepared_builder_and_never_downloads(tmp_path):
    import tensorflow_datasets as tfds

    class TinyTranslation(tfds.core.GeneratorBasedBuilder):
        """A two-language TFDS builder prepared from memory (no download)."""

        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return self.dataset_info_from_configs(
                features=tfds.features.Translation(languages=("en", "fr")),
                supervised_keys=("en", "fr"),
            )

        def _split_generators(self, dl_manager):
            return {
                "train": self._generate_examples(20),
                "validation": self._generate_examples(4),
                "test": self._generate_examples(3),
            }

        def _generate_examples(self, n):
            for i in range(n):
                yield i, {"en": f"I have {i} cats.", "fr": f"J'ai {i} chats."}

    load = SOURCES.get("tfds")
    with pytest.raises(FileNotFoundError, match="tfds build tiny_translation"):
        load(str(tmp_path), name="tiny_translation")
    TinyTranslation(data_dir=str(tmp_path)).download_and_prepare()
    pairs = load(str(tmp_path), name="tiny_translation")
    assert {k: len(v) for k, v in pairs.items()} == {"train": 20, "valid": 4, "test": 3}
    assert pairs["test"].targets[0].startswith("J'ai ")
    reverse = load(
        str(tmp_path), name="tiny_translation", source_language="fr", limit=5
    )
    assert len(reverse["train"]) == 5
    assert reverse["train"].sources[0].startswith("J'ai ")


@pytest.mark.skipif(
    not (SHARED_DATA / "anki" / "fra.txt").exists(), reason="no ../shared/data"
)
def test_shared_anki_file_splits_as_documented():
    pairs = SOURCES.get("tsv")(str(SHARED_DATA / "anki" / "fra.txt"))
    total = sum(len(p) for p in pairs.values())
    assert total == 142787
    assert 0.04 < len(pairs["test"]) / total < 0.06

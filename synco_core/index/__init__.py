"""The public files index as a stream: written sorted while the set is walked, read entry by entry.

A public set can hold a million files, so nothing here holds the whole set: the source walks its folders
in index order (:mod:`.order`), hashes with a cache of earlier runs (:mod:`.hashcache`), packs small files
into encrypted packs (:mod:`.packs`) and writes each entry as it comes (:mod:`.stream`); a reader gets an
iterator of entries in the same order, to merge with a sorted walk of the local folder. Indexes from
writers that did not keep that order (Go synco v2, older sessions) are put into it with bounded memory
(:mod:`.extsort`). The format is described in docs/wire-format.md.
"""

"""Every cleaning rule, on general examples (not on one file's quirks)."""

from rag.text.clean import (
    clean_document,
    clean_line,
    fold,
    is_end_marker,
    is_page_chrome,
    is_spam_list,
    strip_invisible,
    strip_markup,
    strip_pinyin,
    to_simplified,
)


def test_pinyin_annotations_are_removed_after_any_character() -> None:
    assert strip_pinyin("王智遠(yuǎn)說") == "王智遠說"
    assert strip_pinyin("網(wǎng)易號(hào)") == "網易號"
    assert strip_pinyin("遠（yuan3）") == "遠"
    assert strip_pinyin("變?yōu)檎{(diào)度") == "變?yōu)檎{度"


def test_parenthesised_words_without_tones_stay() -> None:
    assert strip_pinyin("物理AI(Physical AI)") == "物理AI(Physical AI)"
    assert strip_pinyin("模型(model)和令牌(token)") == "模型(model)和令牌(token)"
    assert strip_pinyin("見(2024)") == "見(2024)"


def test_traditional_folds_to_simplified_for_matching() -> None:
    assert to_simplified("黃仁勛發表演講") == "黄仁勋发表演讲"
    assert fold("英偉達(dá)ＡＩ工廠") == "英伟达ai工厂"


def test_markup_is_removed_and_link_text_kept() -> None:
    assert strip_markup("前![](https://x.cn/a.jpg)后") == "前后"
    assert strip_markup("看[这篇文章](https://x.cn/p)吧") == "看这篇文章吧"
    assert strip_markup("<p>段落<br/>文字</p>") == "段落文字"
    assert strip_markup("**黄仁勋：** 你好") == "黄仁勋： 你好"
    assert strip_markup("## 标题") == "标题"


def test_invisible_characters_are_removed() -> None:
    assert strip_invisible("算\ufffd力\u200b") == "算力"


def test_clean_line_combines_the_rules() -> None:
    assert clean_line("> **遠(yuǎn)方** ![](http://a/b.png)  ") == "遠方"


def test_keyword_stuffed_lines_are_spam() -> None:
    assert is_spam_list(fold("免费电影|在线观看|高清下载|最新大片|无码视频"))
    assert not is_spam_list(fold("来源 |星海情报局"))
    assert not is_spam_list(fold("A|B|C|D 都是选项。这是一句话。"))


def test_page_chrome_lines() -> None:
    for line in (
        "分享至",
        "申請入駐",
        "网易首页 > 网易号 > 正文 申请入驻",
        "0",
        "2026-02-26 08:12:43",
        "· · ·",
        "封面图链接: https://a.cn/x.jpg",
        "往期回顾 全部",
        "特別聲明:以上內容為自媒體平臺用戶上傳並發布",
        "Notice: The content above is uploaded",
    ):
        assert is_page_chrome(fold(line)), line
    assert not is_page_chrome(fold("黄仁勋说，我们正在创造未来。"))
    assert not is_page_chrome(fold("2025年5月7日有场大会"))


def test_end_markers_open_the_related_news_feed() -> None:
    assert is_end_marker(fold("相關推薦"))
    assert is_end_marker(fold("## 往期精选"))
    assert is_end_marker(fold("· END ·"))
    assert not is_end_marker(fold("相关推荐算法是本文的主题，下面展开。"))


def test_clean_document_keeps_line_numbers_and_drops_the_feed() -> None:
    raw = "\n".join(
        [
            "标题",
            "分享至",
            "",
            "第一段：黄仁勋发表了演讲。",
            "第一段：黄仁勋发表了演讲。",
            "第二段。",
            "相关推荐",
            "某条新闻标题",
            "2026-02-26 19:49:31",
        ]
    )
    lines = clean_document(raw)
    assert [(line.number, line.text) for line in lines] == [
        (1, "标题"),
        (4, "第一段：黄仁勋发表了演讲。"),
        (6, "第二段。"),
    ]


def test_end_marker_in_the_first_half_is_not_an_ending() -> None:
    raw = "相关推荐\n正文一。\n正文二。\n正文三。"
    assert [line.text for line in clean_document(raw)][:1] == ["相关推荐"]

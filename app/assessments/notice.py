"""The printable notice of results (通报): one content builder for the HTML page and the PDF."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

from app.assessments import services
from app.assessments.calc import GRADE_LABELS, UnitResult, contest_text, fmt_coef, fmt_final
from app.timeutil import local_date


@dataclass
class ClassSection:
    name: str
    rows: list[UnitResult]
    by_grade: dict[str, list[UnitResult]] = field(default_factory=dict)


@dataclass
class Notice:
    title: str
    intro: str
    sections: list[ClassSection]
    unqualified: list[tuple[UnitResult, str]]
    not_eligible: list[tuple[UnitResult, str]]
    talks: list[UnitResult]
    closing: str
    draft: bool
    issued_on: date | None


def build_notice(actor, assessment_id: int) -> tuple[object, Notice]:
    a, rows = services.results(actor, assessment_id)
    sections: dict[str, ClassSection] = {}
    for r in rows:
        section = sections.setdefault(r.unit_class, ClassSection(r.unit_class, []))
        section.rows.append(r)
        section.by_grade.setdefault(r.grade, []).append(r)
    unqualified = []
    for r in rows:
        if not r.qualified:
            why = []
            if r.criticized:
                why.append("被通报批评" + (f"（{r.criticized_reason}）" if r.criticized_reason else ""))
            if "below_ratio" in r.unqualified_reasons:
                why.append(f"最终得分 {fmt_final(r.final)} 低于本类第一名的 "
                           f"{services._fmt(a.unqualified_ratio * 100)}%（{services._fmt(r.threshold)}）")
            unqualified.append((r, "；".join(why)))
    not_eligible = []
    for r in rows:
        if not r.award_eligible:
            why = []
            if r.veto:
                items = "；".join(v.text for v in r.veto_items if v.text)
                why.append("一票否决" + (f"（{items}）" if items else ""))
            why += [f"{contest_text(c)}，末位" for c in r.exclusions]
            if r.grade == "D":
                why.append("考核等次为不合格")  # the reason itself is listed under 不合格单位
            not_eligible.append((r, "；".join(why)))
    depts = "、".join(a.departments or [])
    notice = Notice(
        title=f"关于{a.full_title}结果的通报",
        intro=(f"按照党建系数法考核办法，经{depts}等部门评价党建工作、综合基础分与加减分，"
               f"各单位在本类别内比较排名，现将{a.full_title}结果通报如下。"),
        sections=list(sections.values()),
        unqualified=unqualified,
        not_eligible=not_eligible,
        talks=[r for r in rows if r.talk],
        closing=("考核结果作为年终奖励、干部选拔任用和评优评先的重要依据。等次为合格及以下的单位，"
                 "由组织部门约谈其主要负责人，限期整改。希望各单位对照结果查找不足，持续提升党建工作水平。"),
        draft=not a.is_published,
        issued_on=local_date(a.published_at) if a.published_at else None,
    )
    return a, notice


def notice_pdf(actor, assessment_id: int) -> tuple[str, bytes]:
    """(file name, PDF bytes) of the notice, in the Chinese font of app.pdf_fonts."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from xml.sax.saxutils import escape

    from app.pdf_fonts import cjk_font

    font = cjk_font()
    a, n = build_notice(actor, assessment_id)
    title = ParagraphStyle("title", fontName=font, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=6 * mm)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=13, leading=20, spaceBefore=4 * mm, spaceAfter=2 * mm)
    body = ParagraphStyle("body", fontName=font, fontSize=11, leading=18, firstLineIndent=22, wordWrap="CJK")
    cell = ParagraphStyle("cell", fontName=font, fontSize=10, leading=14, wordWrap="CJK")

    def p(text, style=body):
        return Paragraph(escape(text), style)

    story = [p(n.title + ("（草稿）" if n.draft else ""), title), p(n.intro)]
    for s in n.sections:
        story.append(p(f"{s.name}（{len(s.rows)}个单位）", h2))
        data = [[p(h, cell) for h in ("名次", "单位", "党建系数", "最终得分", "等次")]]
        for r in s.rows:
            data.append([p(str(r.rank), cell), p(r.name, cell), p(fmt_coef(r.coefficient), cell),
                         p(fmt_final(r.final), cell), p(f"{r.grade}（{GRADE_LABELS[r.grade]}）", cell)])
        table = Table(data, colWidths=[14 * mm, 70 * mm, 26 * mm, 26 * mm, 30 * mm], repeatRows=1)
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f2f2")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]))
        story.append(table)
    if n.unqualified:
        story.append(p("不合格单位", h2))
        story += [p(f"{r.name}（{r.unit_class}）：{why}。") for r, why in n.unqualified]
    if n.not_eligible:
        story.append(p("取消当年评优评先资格", h2))
        story += [p(f"{r.name}：{why}。") for r, why in n.not_eligible]
    if n.talks:
        story.append(p("约谈名单", h2))
        story.append(p("、".join(f"{r.name}（{r.grade_label}）" for r in n.talks) + "。"))
    story += [Spacer(1, 4 * mm), p(n.closing)]
    if n.issued_on:
        story += [Spacer(1, 8 * mm), Paragraph(escape(f"{n.issued_on.year}年{n.issued_on.month}月{n.issued_on.day}日"),
                                               ParagraphStyle("date", parent=body, alignment=2))]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=20 * mm,
                            bottomMargin=18 * mm, title=n.title)
    doc.build(story)
    return f"{a.full_title}-通报.pdf", out.getvalue()

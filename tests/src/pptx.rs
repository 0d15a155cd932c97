//! A real PowerPoint file made from scratch: every part a presentation
//! needs (master, layout, theme, slides with title and body placeholders,
//! notes pages, document properties), so LibreOffice opens and renders it
//! as PowerPoint would. Each slide has its own background colour, so a
//! test can tell the rendered slide pictures apart and check their order.

use std::io::Write;
use std::path::Path;

/// One slide of a test presentation.
#[derive(Debug, Clone)]
pub struct PptxSlide<'a> {
    /// The title placeholder's text.
    pub title: &'a str,
    /// A line of body text.
    pub body: &'a str,
    /// The speaker notes, one entry per paragraph.
    pub notes: &'a [&'a str],
    /// The slide's background colour.
    pub background: [u8; 3],
}

const NS: &str = r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main""#;
const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const CT: &str = "application/vnd.openxmlformats-officedocument.presentationml";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn rels(entries: &[(&str, &str, &str)]) -> String {
    let body: String = entries
        .iter()
        .map(|(id, kind, target)| {
            // Office relationship kinds are short; others are given whole.
            let kind = if kind.starts_with("http") {
                kind.to_string()
            } else {
                format!("{REL}/{kind}")
            };
            format!(r#"<Relationship Id="{id}" Type="{kind}" Target="{target}"/>"#)
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{body}</Relationships>"#
    )
}

/// An empty shape tree's required group properties.
const TREE_HEAD: &str =
    r#"<p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>"#;

/// A text shape: placeholder `kind` at `(x, y, cx, cy)` EMU.
fn text_shape(
    id: u32,
    kind: &str,
    idx: u32,
    rect: (u64, u64, u64, u64),
    size: u32,
    text: &[&str],
) -> String {
    let paragraphs: String = text
        .iter()
        .map(|t| {
            format!(
                r#"<a:p><a:r><a:rPr lang="en-US" sz="{size}" dirty="0"/><a:t>{}</a:t></a:r></a:p>"#,
                escape(t)
            )
        })
        .collect();
    let (x, y, cx, cy) = rect;
    format!(
        r#"<p:sp><p:nvSpPr><p:cNvPr id="{id}" name="{kind} {id}"/><p:cNvSpPr><a:spLocks noGrp="1"/></p:cNvSpPr><p:nvPr><p:ph type="{kind}" idx="{idx}"/></p:nvPr></p:nvSpPr><p:spPr><a:xfrm><a:off x="{x}" y="{y}"/><a:ext cx="{cx}" cy="{cy}"/></a:xfrm></p:spPr><p:txBody><a:bodyPr/><a:lstStyle/>{paragraphs}</p:txBody></p:sp>"#
    )
}

const THEME: &str = r#"<a:theme xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" name="Test"><a:themeElements><a:clrScheme name="Test"><a:dk1><a:srgbClr val="000000"/></a:dk1><a:lt1><a:srgbClr val="FFFFFF"/></a:lt1><a:dk2><a:srgbClr val="1F2937"/></a:dk2><a:lt2><a:srgbClr val="F3F4F6"/></a:lt2><a:accent1><a:srgbClr val="2563EB"/></a:accent1><a:accent2><a:srgbClr val="DC2626"/></a:accent2><a:accent3><a:srgbClr val="16A34A"/></a:accent3><a:accent4><a:srgbClr val="CA8A04"/></a:accent4><a:accent5><a:srgbClr val="9333EA"/></a:accent5><a:accent6><a:srgbClr val="0891B2"/></a:accent6><a:hlink><a:srgbClr val="1D4ED8"/></a:hlink><a:folHlink><a:srgbClr val="7C3AED"/></a:folHlink></a:clrScheme><a:fontScheme name="Test"><a:majorFont><a:latin typeface="DejaVu Sans"/><a:ea typeface=""/><a:cs typeface=""/></a:majorFont><a:minorFont><a:latin typeface="DejaVu Sans"/><a:ea typeface=""/><a:cs typeface=""/></a:minorFont></a:fontScheme><a:fmtScheme name="Test"><a:fillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:fillStyleLst><a:lnStyleLst><a:ln w="6350"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln><a:ln w="12700"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln><a:ln w="19050"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln></a:lnStyleLst><a:effectStyleLst><a:effectStyle><a:effectLst/></a:effectStyle><a:effectStyle><a:effectLst/></a:effectStyle><a:effectStyle><a:effectLst/></a:effectStyle></a:effectStyleLst><a:bgFillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:bgFillStyleLst></a:fmtScheme></a:themeElements></a:theme>"#;

/// Write a 16:9 presentation with `slides` to `path`, titled `title`.
pub fn write_pptx(path: &Path, title: &str, slides: &[PptxSlide<'_>]) {
    let file = std::fs::File::create(path).expect("create the PPTX");
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default();
    let mut add = |name: &str, body: &str| {
        zip.start_file(name, opts).expect("zip entry");
        zip.write_all(body.as_bytes()).expect("zip write");
    };
    let xml =
        |body: String| format!(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{body}"#);
    let n = slides.len();

    let mut types = format!(
        r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/ppt/presentation.xml" ContentType="{CT}.presentation.main+xml"/><Override PartName="/ppt/slideMasters/slideMaster1.xml" ContentType="{CT}.slideMaster+xml"/><Override PartName="/ppt/slideLayouts/slideLayout1.xml" ContentType="{CT}.slideLayout+xml"/><Override PartName="/ppt/theme/theme1.xml" ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>"#
    );
    for i in 1..=n {
        types.push_str(&format!(
            r#"<Override PartName="/ppt/slides/slide{i}.xml" ContentType="{CT}.slide+xml"/><Override PartName="/ppt/notesSlides/notesSlide{i}.xml" ContentType="{CT}.notesSlide+xml"/>"#
        ));
    }
    types.push_str("</Types>");
    add("[Content_Types].xml", &xml(types));
    add(
        "_rels/.rels",
        &rels(&[
            ("rId1", "officeDocument", "ppt/presentation.xml"),
            (
                "rId2",
                "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
                "docProps/core.xml",
            ),
        ]),
    );
    add(
        "docProps/core.xml",
        &xml(format!(
            r#"<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{}</dc:title></cp:coreProperties>"#,
            escape(title)
        )),
    );

    let ids: String = (1..=n)
        .map(|i| format!(r#"<p:sldId id="{}" r:id="rId{}"/>"#, 255 + i, i + 2))
        .collect();
    add(
        "ppt/presentation.xml",
        &xml(format!(
            r#"<p:presentation {NS}><p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/></p:sldMasterIdLst><p:sldIdLst>{ids}</p:sldIdLst><p:sldSz cx="12192000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>"#
        )),
    );
    let mut presentation_rels = vec![
        (
            "rId1".to_string(),
            "slideMaster",
            "slideMasters/slideMaster1.xml".to_string(),
        ),
        ("rId2".to_string(), "theme", "theme/theme1.xml".to_string()),
    ];
    for i in 1..=n {
        presentation_rels.push((
            format!("rId{}", i + 2),
            "slide",
            format!("slides/slide{i}.xml"),
        ));
    }
    let borrowed: Vec<(&str, &str, &str)> = presentation_rels
        .iter()
        .map(|(a, b, c)| (a.as_str(), *b, c.as_str()))
        .collect();
    add("ppt/_rels/presentation.xml.rels", &rels(&borrowed));

    add(
        "ppt/slideMasters/slideMaster1.xml",
        &xml(format!(
            r#"<p:sldMaster {NS}><p:cSld><p:bg><p:bgPr><a:solidFill><a:srgbClr val="FFFFFF"/></a:solidFill><a:effectLst/></p:bgPr></p:bg><p:spTree>{TREE_HEAD}</p:spTree></p:cSld><p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" folHlink="folHlink"/><p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/></p:sldLayoutIdLst></p:sldMaster>"#
        )),
    );
    add(
        "ppt/slideMasters/_rels/slideMaster1.xml.rels",
        &rels(&[
            ("rId1", "slideLayout", "../slideLayouts/slideLayout1.xml"),
            ("rId2", "theme", "../theme/theme1.xml"),
        ]),
    );
    add(
        "ppt/slideLayouts/slideLayout1.xml",
        &xml(format!(
            r#"<p:sldLayout {NS} type="obj"><p:cSld name="Title and Content"><p:spTree>{TREE_HEAD}</p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sldLayout>"#
        )),
    );
    add(
        "ppt/slideLayouts/_rels/slideLayout1.xml.rels",
        &rels(&[("rId1", "slideMaster", "../slideMasters/slideMaster1.xml")]),
    );
    add("ppt/theme/theme1.xml", &xml(THEME.to_string()));

    for (i, slide) in slides.iter().enumerate() {
        let i = i + 1;
        let [r, g, b] = slide.background;
        let shapes = format!(
            "{}{}",
            text_shape(
                2,
                "title",
                0,
                (838_200, 365_125, 10_515_600, 1_325_563),
                4400,
                &[slide.title]
            ),
            text_shape(
                3,
                "body",
                1,
                (838_200, 1_825_625, 10_515_600, 4_351_338),
                2800,
                &[slide.body]
            ),
        );
        add(
            &format!("ppt/slides/slide{i}.xml"),
            &xml(format!(
                r#"<p:sld {NS}><p:cSld><p:bg><p:bgPr><a:solidFill><a:srgbClr val="{r:02X}{g:02X}{b:02X}"/></a:solidFill><a:effectLst/></p:bgPr></p:bg><p:spTree>{TREE_HEAD}{shapes}</p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sld>"#
            )),
        );
        add(
            &format!("ppt/slides/_rels/slide{i}.xml.rels"),
            &rels(&[
                ("rId1", "slideLayout", "../slideLayouts/slideLayout1.xml"),
                (
                    "rId2",
                    "notesSlide",
                    &format!("../notesSlides/notesSlide{i}.xml"),
                ),
            ]),
        );
        let notes = format!(
            r#"<p:sp><p:nvSpPr><p:cNvPr id="2" name="Slide Image"/><p:cNvSpPr><a:spLocks noGrp="1" noRot="1" noChangeAspect="1"/></p:cNvSpPr><p:nvPr><p:ph type="sldImg"/></p:nvPr></p:nvSpPr><p:spPr/></p:sp>{}"#,
            text_shape(
                3,
                "body",
                1,
                (685_800, 4_400_550, 5_486_400, 3_600_450),
                1200,
                slide.notes
            ),
        );
        add(
            &format!("ppt/notesSlides/notesSlide{i}.xml"),
            &xml(format!(
                r#"<p:notes {NS}><p:cSld><p:spTree>{TREE_HEAD}{notes}</p:spTree></p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:notes>"#
            )),
        );
        add(
            &format!("ppt/notesSlides/_rels/notesSlide{i}.xml.rels"),
            &rels(&[("rId1", "slide", &format!("../slides/slide{i}.xml"))]),
        );
    }
    zip.finish().expect("finish the PPTX");
}

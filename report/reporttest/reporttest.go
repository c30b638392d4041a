// Package reporttest opens a report page in headless Chromium for tests and reads back,
// from the DOM, what was drawn: the page's own render check (script errors, blocked
// resources, every plot's box) and a geometry check that this package adds to the page
// before it is opened, which finds
//
//   - legend entries (text.legend, line.legend-key) that a plotted mark (.data: curves,
//     filled areas, points, bars, cells) passes through: each curve and area outline
//     is sampled every pixel along its segments in page coordinates, an entry's corners
//     and centre are tested inside each filled area, each bar or cell is taken as its
//     box;
//   - texts of one plot that overlap each other (tick labels, axis titles, bar names and
//     values, colour-scale labels, legend texts, the title), each text taken as its
//     glyph box turned with its transform, so rotated labels are compared as drawn.
//
// It needs the chromium binary (Debian's chromium package); without it the tests skip,
// except under CI, where they fail.
package reporttest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Chromium returns the headless browser's path; without one the test skips, or fails
// when CI is set.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found (CI is set); install Debian's chromium")
	}
	t.Skip("skipping: chromium not found (install Debian's chromium to run the browser checks)")
	return ""
}

// Run runs headless Chromium with args after the common flags and returns its stdout
// and stderr.
func Run(t testing.TB, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--force-device-scale-factor=1", "--hide-scrollbars", "--virtual-time-budget=10000"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, e.String())
	}
	return o.String(), e.String()
}

// Page is what Open read back from the rendered page.
type Page struct {
	// Errors counts script errors and blocked resources; RenderCheck is the page's own
	// check text (one "plot ID SHAPES BW BH X Y W H" line per plot, then "page W H").
	Errors      int
	RenderCheck string
	// Plots are the data-plot ids the geometry check looked at, in page order.
	Plots []string
	// Overlaps lists each overlap found, one line each: "legend PLOT: KEY crossed by
	// MARK at X,Y" or "text PLOT: "A" overlaps "B"".
	Overlaps []string
	// Width and Height are the page's scroll size in CSS pixels.
	Width, Height int
	// Console holds the browser's console lines and refusals (blocked loads).
	Console []string
}

// Open writes page (an HTML document) with the geometry check added into dir, opens it
// in Chromium and returns what the checks found. When shot is not "", it also takes a
// screenshot of the whole page (1280 pixels wide) into that PNG file.
func Open(t testing.TB, bin, dir string, page []byte, shot string) *Page {
	t.Helper()
	i := bytes.LastIndex(page, []byte("</body>"))
	if i < 0 {
		t.Fatal("page has no </body>")
	}
	html := append(append(append([]byte{}, page[:i]...), []byte("<script>"+geometryScript+"</script>")...), page[i:]...)
	p := filepath.Join(dir, "page.html")
	if err := os.WriteFile(p, html, 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + p
	dom, logs := Run(t, bin, "--window-size=1280,900", "--dump-dom", url)
	out := &Page{}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") || strings.Contains(line, "Refused") {
			out.Console = append(out.Console, line)
		}
	}
	m := regexp.MustCompile(`(?s)<pre id="render-check"[^>]*data-errors="(\d+)"[^>]*>(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("render check missing from the DOM (did the page script run?):\n%.2000s", dom)
	}
	out.Errors, _ = strconv.Atoi(m[1])
	out.RenderCheck = m[2]
	g := regexp.MustCompile(`(?s)<pre id="geometry-check"[^>]*>(.*?)</pre>`).FindStringSubmatch(dom)
	if g == nil {
		t.Fatalf("geometry check missing from the DOM:\n%.2000s", dom)
	}
	for _, line := range strings.Split(unescape(g[1]), "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "plot":
			out.Plots = append(out.Plots, rest)
		case "overlap":
			out.Overlaps = append(out.Overlaps, rest)
		case "page":
			fmt.Sscan(rest, &out.Width, &out.Height)
		case "error":
			t.Fatalf("geometry check failed in the page: %s", rest)
		}
	}
	if out.Height <= 0 {
		t.Fatalf("geometry check gave no page size:\n%s", g[1])
	}
	if shot != "" {
		Run(t, bin, "--screenshot="+shot, fmt.Sprintf("--window-size=1280,%d", min(out.Height+20, 16000)), url)
		if _, err := os.Stat(shot); err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
	}
	return out
}

// SaveShot copies the screenshot at shot to $MULTILABEL_SCREENSHOT_DIR/name, when that
// variable is set, for a person to look at.
func SaveShot(t testing.TB, shot, name string) {
	t.Helper()
	dir := os.Getenv("MULTILABEL_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func unescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&amp;", "&").Replace(s)
}

// geometryScript runs after the page has loaded and writes its findings into a hidden
// <pre id="geometry-check">, one line each.
const geometryScript = `window.addEventListener('load',function(){
var out=[];
try{
// The four corners of an element's box in page coordinates, turned with its transforms.
function quad(el){var bb=el.getBBox(),m=el.getScreenCTM(),sx=window.scrollX,sy=window.scrollY;
 return [[bb.x,bb.y],[bb.x+bb.width,bb.y],[bb.x+bb.width,bb.y+bb.height],[bb.x,bb.y+bb.height]].map(function(p){
  return [m.a*p[0]+m.c*p[1]+m.e+sx,m.b*p[0]+m.d*p[1]+m.f+sy];});}
function box(q,pad){var xs=q.map(function(p){return p[0]}),ys=q.map(function(p){return p[1]});
 return {l:Math.min.apply(null,xs)-pad,r:Math.max.apply(null,xs)+pad,t:Math.min.apply(null,ys)-pad,b:Math.max.apply(null,ys)+pad};}
function proj(P,nx,ny){var lo=Infinity,hi=-Infinity;P.forEach(function(p){var v=p[0]*nx+p[1]*ny;lo=Math.min(lo,v);hi=Math.max(hi,v);});return [lo,hi];}
// Separating axes: two convex quadrilaterals overlap unless one of their edge normals
// separates them; touching, or overlapping by less than 0.5 px, does not count.
function overlap(P,Q){var A=[P,Q];for(var k=0;k<2;k++){for(var i=0;i<4;i++){var p=A[k][i],q=A[k][(i+1)%4];
 var nx=q[1]-p[1],ny=p[0]-q[0],len=Math.hypot(nx,ny);if(len<1e-9)continue;nx/=len;ny/=len;
 var a=proj(P,nx,ny),b=proj(Q,nx,ny);if(a[1]<=b[0]+0.5||b[1]<=a[0]+0.5)return false;}}return true;}
function name(el){var t=el.tagName.toLowerCase();if(t==='text')return '"'+el.textContent+'"';return t+'.'+(el.getAttribute('class')||'');}
function inBox(b,x,y){return x>b.l&&x<b.r&&y>b.t&&y<b.b;}
document.querySelectorAll('svg.plot').forEach(function(svg){
 var id=svg.getAttribute('data-plot');out.push('plot '+id);
 // Legend entries: each text and key, a pixel of margin around.
 var legend=[].map.call(svg.querySelectorAll('text.legend,line.legend-key'),function(el){return {el:el,b:box(quad(el),el.tagName==='line'?2:1)};});
 if(legend.length){
  var found={};
  svg.querySelectorAll('.data').forEach(function(d){
   var tag=d.tagName.toLowerCase(),m=d.getScreenCTM(),sx=window.scrollX,sy=window.scrollY;
   function hit(x,y){legend.forEach(function(L,k){if(!found[k]&&inBox(L.b,x,y)){found[k]=true;out.push('overlap legend '+id+': '+name(L.el)+' crossed by '+tag+' at '+Math.round(x)+','+Math.round(y));}});}
   if(tag==='polyline'||tag==='polygon'){
    var pts=[];for(var i=0;i<d.points.numberOfItems;i++){var p=d.points.getItem(i);pts.push([m.a*p.x+m.c*p.y+m.e+sx,m.b*p.x+m.d*p.y+m.f+sy]);}
    if(tag==='polygon'&&pts.length){pts.push(pts[0]);
     // A filled area covers what lies inside it, not only its outline: test each
     // legend entry's corners and centre (same user space: legends are not transformed).
     if(d.getAttribute('fill')!=='none'&&d.isPointInFill)legend.forEach(function(L,k){if(found[k])return;var bb=L.el.getBBox();
      [[bb.x,bb.y],[bb.x+bb.width,bb.y],[bb.x,bb.y+bb.height],[bb.x+bb.width,bb.y+bb.height],[bb.x+bb.width/2,bb.y+bb.height/2]].forEach(function(c){
       if(!found[k]&&d.isPointInFill(new DOMPoint(c[0],c[1]))){found[k]=true;out.push('overlap legend '+id+': '+name(L.el)+' inside polygon');}});});}
    for(var i=0;i<pts.length;i++){if(i===0){hit(pts[0][0],pts[0][1]);continue;}
     var a=pts[i-1],b=pts[i],n=Math.max(1,Math.ceil(Math.hypot(b[0]-a[0],b[1]-a[1])));
     for(var s=1;s<=n;s++)hit(a[0]+(b[0]-a[0])*s/n,a[1]+(b[1]-a[1])*s/n);}
   }else{var db=box(quad(d),0);legend.forEach(function(L,k){if(!found[k]&&db.l<L.b.r&&L.b.l<db.r&&db.t<L.b.b&&L.b.t<db.b){found[k]=true;out.push('overlap legend '+id+': '+name(L.el)+' covered by '+tag);}});}
  });
 }
 // Texts of the plot, pairwise.
 var texts=[].filter.call(svg.querySelectorAll('text'),function(el){return el.textContent.trim()!==''&&el.getBBox().width>0;}).map(function(el){return {el:el,q:quad(el)};});
 for(var i=0;i<texts.length;i++)for(var j=i+1;j<texts.length;j++){
  if(overlap(texts[i].q,texts[j].q))out.push('overlap text '+id+': '+name(texts[i].el)+' overlaps '+name(texts[j].el));}
});
out.push('page '+document.documentElement.scrollWidth+' '+document.documentElement.scrollHeight);
}catch(e){out.push('error '+e);}
var d=document.createElement('pre');d.id='geometry-check';d.style.display='none';d.textContent=out.join('\n');document.body.appendChild(d);
});`

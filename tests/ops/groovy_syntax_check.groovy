// Parses Groovy files (a Jenkinsfile is Groovy) up to the CONVERSION phase with the real Groovy
// compiler: syntax errors are reported; nothing is executed and no class is resolved, so Jenkins
// steps (sh, withCredentials, ...) need not exist. Run with the Groovy jar only (no javac needed):
//   java -cp groovy-4.0.33.jar groovy.ui.GroovyMain tests/ops/groovy_syntax_check.groovy FILE...
// Exit 0 = every file parsed; 1 = syntax errors (on stderr); 2 = usage.
import org.codehaus.groovy.control.CompilationFailedException
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

if (!args) {
    System.err.println('usage: groovy_syntax_check.groovy FILE...')
    System.exit(2)
}
int failed = 0
for (String path : args) {
    def unit = new CompilationUnit()
    unit.addSource(new File(path))
    try {
        unit.compile(Phases.CONVERSION)
        println "OK ${path}"
    } catch (CompilationFailedException e) {
        failed++
        System.err.println("FAIL ${path}:\n${e.message}")
    }
}
System.exit(failed == 0 ? 0 : 1)
